"""The YouTube Data API quota: units per *Pacific* day (the quota resets at midnight
America/Los_Angeles), counted in the database so every replica and source shares one budget."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from services.ingestor.ledger import Ledger, insert_ignore
from services.ingestor.tables import YouTubeQuota

PACIFIC = ZoneInfo("America/Los_Angeles")


def quota_day(now: datetime) -> str:
    return now.astimezone(PACIFIC).date().isoformat()


def next_reset(now: datetime) -> datetime:
    """The next Pacific midnight, in UTC (DST-aware)."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return midnight.astimezone(UTC)


class Quota:
    def __init__(self, ledger: Ledger, daily_units: int) -> None:
        self.ledger, self.daily_units = ledger, daily_units

    async def take(self, now: datetime, units: int = 1) -> bool:
        """Spend ``units`` of today's budget if they are left (atomic across replicas)."""
        table, day = YouTubeQuota.__table__, quota_day(now)
        async with self.ledger.connection(write=True) as conn:
            await insert_ignore(conn, YouTubeQuota, [{"day": day, "units": 0}])
            taken = await conn.execute(
                update(table)
                .where(table.c.day == day, table.c.units + units <= self.daily_units)
                .values(units=table.c.units + units)
                .returning(table.c.units)
            )
            return taken.first() is not None

    async def used(self, now: datetime) -> int:
        async with self.ledger.session() as session:
            row = await session.get(YouTubeQuota, quota_day(now))
            return row.units if row is not None else 0
