"""Planning's two tables in the router's database (migration ``0011_router_planning``):

- ``router_planning_forecasts``: the latest forecast of each series (``queue:workload`` or
  ``queue:channel:<channel>``), as computed by the scheduled refresh, with its time; or the reason
  the series could not be forecast. Every replica reads the same rows.
- ``router_planning_rosters``: a team's shifts (weekly pattern + exceptions) as the lead sent them,
  versioned.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

Stamp = DateTime(timezone=True)


class ForecastRow(Base):
    __tablename__ = "router_planning_forecasts"

    series: Mapped[str] = mapped_column(String(300), primary_key=True)
    queue: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    computed_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    body: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(1024))


class RosterRow(Base):
    __tablename__ = "router_planning_rosters"

    team: Mapped[str] = mapped_column(String(128), primary_key=True)
    body: Mapped[dict] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
