"""Routed items outside a consumer's transaction: reads for the API and the batch's
after-the-ack update. Each call opens (and closes) its own session; ``transaction`` hands out a
``Repository`` for work that must commit together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.router.store.repository import Repository, transaction
from services.router.store.rows import ASSIGNED, WAITING
from services.router.tables import AuditEntry, LifecycleReceipt, RoutedItem


class RoutedItems:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repository]:
        """A repository over a new session; the caller commits."""
        async with transaction(self._sessions) as repo:
            yield repo

    async def get(self, message_key: str) -> RoutedItem | None:
        async with self._sessions() as session:
            return await session.get(RoutedItem, message_key)

    async def by_id(self, item_id: str) -> RoutedItem | None:
        """The item with event id ``item_id``."""
        async with self.transaction() as repo:
            return await repo.item(item_id)

    async def open_items(self, queue: str) -> list[RoutedItem]:
        """A queue's waiting and assigned items."""
        async with self.transaction() as repo:
            return await repo.open_items(queue)

    async def open_page(self, queue: str, limit: int, offset: int) -> tuple[list[RoutedItem], int]:
        """One page of a queue's waiting and assigned items, soonest SLA deadline first, and
        how many there are in all."""
        where = (RoutedItem.queue == queue, RoutedItem.work_state.in_([WAITING, ASSIGNED]))
        order = (RoutedItem.sla_deadline, RoutedItem.message_key)
        # the page's keys first (a narrow scan even at a deep offset), then only those rows
        keys = select(RoutedItem.message_key).where(*where).order_by(*order)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(RoutedItem).where(*where))
            page = list((await session.execute(keys.limit(limit).offset(offset))).scalars())
            rows = (
                await session.execute(select(RoutedItem).where(RoutedItem.message_key.in_(page)))
            ).scalars()
            by_key = {r.message_key: r for r in rows}
        return [by_key[k] for k in page if k in by_key], int(total or 0)

    async def mark_queued_many(self, message_keys: list[str]) -> None:
        """Mark a whole batch's items published, in one statement."""
        async with self.transaction() as repo:
            await repo.mark_queued(message_keys)
            await repo.commit()

    async def count_by_queue(self, queues: set[str] | None = None) -> dict[str, int]:
        query = select(RoutedItem.queue, func.count()).group_by(RoutedItem.queue)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {q: n for q, n in rows if queues is None or q in queues}

    async def audit_trail(self, message_key: str | None, limit: int) -> list[AuditEntry]:
        """The audit rows in order, of one item's message when given, at most ``limit``."""
        query = select(AuditEntry).order_by(AuditEntry.id).limit(limit)
        if message_key is not None:
            query = query.where(AuditEntry.message_key == message_key)
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())

    async def lifecycle_applied(self, item_id: str) -> dict[str, str]:
        """The lifecycle events already applied to item ``item_id``: event id -> action."""
        query = select(LifecycleReceipt.event_id, LifecycleReceipt.action).where(
            LifecycleReceipt.item_id == item_id
        )
        async with self._sessions() as session:
            return dict((await session.execute(query)).tuples().all())
