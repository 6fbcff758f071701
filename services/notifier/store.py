"""The page ledger: one row per (routed item, target), so a redelivered event never pages twice.

A row is ``sending`` while delivery is attempted and ``sent`` once the target accepted it; a
redelivery that finds ``sending`` (a crash mid-delivery) delivers again, one finding ``sent``
does nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.notifier.tables import PageRecord
from shared.db import is_unique_violation

SENDING, SENT = "sending", "sent"


class PageLedger:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def claim(self, item_event_id: str, target: str, incident_key: str) -> bool:
        """True when this page still has to be delivered."""
        async with self._sessions() as session:
            row = await self._find(session, item_event_id, target)
            if row is not None:
                return row.status != SENT
            session.add(PageRecord(item_event_id=item_event_id, target=target, incident_key=incident_key,
                                   status=SENDING, created_at=datetime.now(UTC)))
            try:
                await session.commit()
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                return False
        return True

    async def mark_sent(self, item_event_id: str, target: str, sent_at: datetime) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(PageRecord)
                .where(PageRecord.item_event_id == item_event_id, PageRecord.target == target)
                .values(status=SENT, sent_at=sent_at)
            )
            await session.commit()

    async def count_sent(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count()).where(PageRecord.status == SENT)) or 0

    @staticmethod
    async def _find(session, item_event_id: str, target: str) -> PageRecord | None:
        query = select(PageRecord).where(PageRecord.item_event_id == item_event_id, PageRecord.target == target)
        return (await session.execute(query)).scalar_one_or_none()
