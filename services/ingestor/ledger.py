"""The deduplication ledger (``ingested_messages``): which platform messages Kafka already has.

A row is written only after the broker acknowledged the event, so a failed produce never
makes the platform's retry look like a duplicate. Two concurrent copies of one webhook may
both be produced; the unique key keeps one row and consumers are idempotent on the event id.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.ingestor.tables import IngestedMessage
from shared import db
from shared.logging import get_logger

log = get_logger(__name__)


class LedgerUnavailable(Exception):
    """The database could not be reached or refused the operation; retry later."""


class Ledger:
    """Async access to ``ingested_messages``. ``reachable`` reflects the last database contact."""

    def __init__(self, database_url: str) -> None:
        self._engine = db.engine(database_url)
        self._sessions = db.sessions(self._engine)
        self.reachable = False

    async def find(self, message_key: str) -> str | None:
        """The event id recorded for ``message_key``, or ``None``. Raises ``LedgerUnavailable``."""
        async with self._contact(), self._sessions() as session:
            row = await session.get(IngestedMessage, message_key)
            return row.event_id if row is not None else None

    async def record(self, row: IngestedMessage) -> bool:
        """Insert ``row``; ``False`` if its key is already there. Raises ``LedgerUnavailable``."""
        try:
            async with self._contact(), self._sessions.begin() as session:
                session.add(row)
        except LedgerUnavailable as exc:
            if isinstance(exc.__cause__, IntegrityError) and db.is_unique_violation(exc.__cause__):
                return False
            raise
        return True

    async def watch(self, interval_s: float = 5.0) -> None:
        """Ping the database every ``interval_s`` to keep ``reachable`` current. Cancel to stop."""
        while True:
            try:
                async with self._contact(), self._engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            except LedgerUnavailable:
                pass
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def _contact(self) -> AsyncIterator[None]:
        try:
            yield
        except (SQLAlchemyError, OSError) as exc:
            self.reachable = isinstance(exc, IntegrityError)  # a conflict proves the DB is up
            if not self.reachable:
                log.warning("db.unavailable", error=type(exc).__name__, detail=str(exc)[:200])
            raise LedgerUnavailable(type(exc).__name__) from exc
        self.reachable = True


def new_row(message_key: str, event_id: str, source: str, webhook_id: str, at: datetime) -> IngestedMessage:
    return IngestedMessage(message_key=message_key, event_id=event_id, source=source,
                           webhook_id=webhook_id, received_at=at)
