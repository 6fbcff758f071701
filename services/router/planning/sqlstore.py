"""Planning's stores in the router's database: the stored forecasts (``SqlForecastStore``, the
``ForecastStore`` the router serves from) and the teams' rosters (``RosterStore``).

``sessions`` is the router's ``async_sessionmaker``; each call is one short transaction. A put
replaces the row (one row per series or team), so every replica reads what the last refresh wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.router.planning.shifts import Roster, parse_roster
from services.router.planning.store import StoredForecast, from_dict, to_dict
from services.router.tables import ForecastRow, RosterRow


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _stored(row: ForecastRow) -> StoredForecast:
    return from_dict(
        {
            "queue": row.series,
            "computed_at": _aware(row.computed_at).isoformat(),
            "forecast": row.body,
            "error": row.error,
        }
    )


class SqlForecastStore:
    """``ForecastStore`` over ``router_planning_forecasts``."""

    def __init__(self, sessions) -> None:
        self._sessions = sessions

    async def get(self, queue: str) -> StoredForecast | None:
        async with self._sessions() as s:
            row = await s.get(ForecastRow, queue)
            return None if row is None else _stored(row)

    async def of_queue(self, queue: str) -> list[StoredForecast]:
        async with self._sessions() as s:
            rows = await s.scalars(
                select(ForecastRow).where(ForecastRow.queue == queue).order_by(ForecastRow.series)
            )
            return [_stored(r) for r in rows]

    async def put(self, stored: StoredForecast) -> None:
        values = {
            "queue": stored.queue.split(":", 1)[0],
            "computed_at": stored.computed_at.astimezone(UTC),  # SQLite keeps no offset
            "body": to_dict(stored)["forecast"],
            "error": None if stored.error is None else stored.error[:1024],
        }
        for _ in range(2):  # another replica may insert the same series between our two steps
            try:
                async with self._sessions() as s, s.begin():
                    done = await s.execute(
                        update(ForecastRow)
                        .where(ForecastRow.series == stored.queue)
                        .values(**values)
                    )
                    if done.rowcount == 0:
                        s.add(ForecastRow(series=stored.queue, **values))
                return
            except IntegrityError:
                continue


@dataclass(frozen=True)
class StoredRoster:
    team: str
    body: dict
    roster: Roster
    version: int
    updated_by: str
    updated_at: datetime


class RosterStore:
    """A team's shifts as the lead sent them (validated before storing), versioned."""

    def __init__(self, sessions) -> None:
        self._sessions = sessions

    async def get(self, team: str) -> StoredRoster | None:
        async with self._sessions() as s:
            row = await s.get(RosterRow, team)
            if row is None:
                return None
            return StoredRoster(
                row.team,
                row.body,
                parse_roster({**row.body, "team": row.team}),
                row.version,
                row.updated_by,
                _aware(row.updated_at),
            )

    async def put(self, team: str, body: dict, *, by: str, at: datetime) -> StoredRoster:
        """Validate (``PlanningError`` naming the bad entry) and store; returns the new version."""
        roster = parse_roster({**body, "team": team})
        at = at.astimezone(UTC)
        async with self._sessions() as s, s.begin():
            row = await s.get(RosterRow, team)
            if row is None:
                row = RosterRow(team=team, body=body, version=1, updated_by=by, updated_at=at)
                s.add(row)
            else:
                row.body, row.version, row.updated_by, row.updated_at = (
                    body,
                    row.version + 1,
                    by,
                    at,
                )
        return StoredRoster(team, body, roster, row.version, by, at)
