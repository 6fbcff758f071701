"""Notifier tables: pages sent, unique per (routed item, target) so redelivery never pages twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class PageRecord(Base):
    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("item_event_id", "target", name="uq_pages_item_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str] = mapped_column(String(128), nullable=False)
    incident_key: Mapped[str] = mapped_column(String(1024), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)  # sending, sent
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
