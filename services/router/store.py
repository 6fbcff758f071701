"""Routed items in the database: the router's idempotency ledger.

An item is stored ``pending`` before its event is published and marked ``queued`` once the
broker acknowledged it. A redelivered message whose item is still pending is published
again (same event id, so downstream consumers deduplicate); one already queued is skipped.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.router.tables import RoutedItem
from shared.db import is_unique_violation
from shared.events import Routed, Routing

PENDING, QUEUED = "pending", "queued"


class RoutedItems:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def claim(self, event_id: str, item: Routed) -> Routing | None:
        """Store ``item`` as pending and return its routing; for a known message return the
        stored routing if it is still pending, or ``None`` if it was already published."""
        async with self._sessions() as session:
            existing = await session.get(RoutedItem, item.message.message_key)
            if existing is not None:
                return _routing(existing, item.routing.policy) if existing.state == PENDING else None
            session.add(_row(event_id, item))
            try:
                await session.commit()
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                await session.rollback()
                return None  # a concurrent delivery of the same message claimed it first
        return item.routing

    async def mark_queued(self, message_key: str) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(RoutedItem).where(RoutedItem.message_key == message_key).values(state=QUEUED)
            )
            await session.commit()

    async def count_by_queue(self) -> dict[str, int]:
        async with self._sessions() as session:
            rows = (await session.execute(select(RoutedItem.queue))).scalars().all()
        counts: dict[str, int] = {}
        for queue in rows:
            counts[queue] = counts.get(queue, 0) + 1
        return counts


def _row(event_id: str, item: Routed) -> RoutedItem:
    r = item.routing
    return RoutedItem(
        message_key=item.message.message_key, event_id=event_id,
        conversation_key=item.message.conversation_key, queue=r.queue, priority=r.priority,
        sla_deadline=r.sla_deadline, routed_at=r.routed_at, state=PENDING,
    )


def _routing(row: RoutedItem, policy: str) -> Routing:
    from datetime import UTC

    def aware(dt):
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

    return Routing(queue=row.queue, priority=row.priority, sla_deadline=aware(row.sla_deadline),
                   routed_at=aware(row.routed_at), policy=policy)
