"""Durable timers in the database: SLA timers per item and the digest of low-urgency items.

Both survive restarts (rows, not in-memory tasks) and fire once: ``fired_at`` / ``delivered_at``
is set only after the work they trigger was done, so a crash in between fires them again and
the grouping/delivery ledgers keep that from paging twice. They are written with the routed
items' poll (``routed.RoutedStore``); this store reads, fires and cancels them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notifier.tables import DigestItem, SlaTimer


class TimerStore:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def due_timers(self, now: datetime, limit: int = 200) -> list[SlaTimer]:
        query = (
            select(SlaTimer)
            .where(SlaTimer.fired_at.is_(None), SlaTimer.due_at <= now)
            .order_by(SlaTimer.due_at)
            .limit(limit)
        )
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def fired(self, timer_id: int, now: datetime) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(SlaTimer).where(SlaTimer.id == timer_id).values(fired_at=now)
            )
            await session.commit()

    async def cancel_item(self, item_event_id: str, now: datetime) -> None:
        """The item was handled: its pending SLA timers will not fire."""
        async with self._sessions() as session:
            await session.execute(
                update(SlaTimer)
                .where(SlaTimer.item_event_id == item_event_id, SlaTimer.fired_at.is_(None))
                .values(fired_at=now)
            )
            await session.commit()

    async def due_digests(self, now: datetime, limit: int = 500) -> dict[str, list[DigestItem]]:
        """Undelivered digest items due by ``now``, per team, oldest first."""
        query = (
            select(DigestItem)
            .where(DigestItem.delivered_at.is_(None), DigestItem.due_at <= now)
            .order_by(DigestItem.due_at, DigestItem.item_event_id)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = list((await session.execute(query)).scalars())
        teams: dict[str, list[DigestItem]] = {}
        for row in rows:
            teams.setdefault(row.team, []).append(row)
        return teams

    async def digest_delivered(self, ids: list[str], now: datetime) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(DigestItem).where(DigestItem.item_event_id.in_(ids)).values(delivered_at=now)
            )
            await session.commit()
