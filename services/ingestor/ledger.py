"""The deduplication ledger (``ingested_messages``) and the raw bodies (``raw_payloads``).

A ledger row is written only after the broker acknowledged the event, so a failed produce never
makes the platform's retry look like a duplicate. The raw body is written in the same
transaction (content-addressed, so a re-sent body is stored once): an event's ``raw_ref``
resolves once its webhook was answered. Two concurrent copies of one webhook may both be
produced; insert-or-ignore keeps one row and consumers are idempotent on the event id.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.ingestor.tables import IngestedMessage, RawPayload
from shared import db
from shared.logging import get_logger

log = get_logger(__name__)
_CHUNK = 400  # keys per IN (...) query: well below every backend's parameter limit
T = TypeVar("T")


class LedgerUnavailable(Exception):
    """The database could not be reached or refused the operation; retry later."""


class Ledger:
    """Async access to the ingestor's tables. ``reachable`` reflects the last database contact."""

    def __init__(self, database_url: str) -> None:
        self.engine = db.engine(database_url)
        self._sessions = db.sessions(self.engine)
        self.reachable = False
        # The hot path (dedup lookups, group commits) runs each batch as ONE call on a worker
        # thread with a synchronous engine: the async drivers hop threads (aiosqlite) or
        # round-trip the event loop once per cursor operation, which cost more CPU per webhook
        # than the whole HTTP layer. Two workers: a lookup need not wait for a commit.
        self._hot_engine = db.sync_engine(database_url)
        self._hot_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ledger")

    async def find(self, message_key: str) -> str | None:
        """The event id recorded for ``message_key``, or ``None``. Raises ``LedgerUnavailable``."""
        return (await self.find_many([message_key])).get(message_key)

    async def find_many(self, message_keys: Iterable[str]) -> dict[str, str]:
        """``{message_key: event_id}`` for the keys already recorded. Raises ``LedgerUnavailable``."""
        keys = list(dict.fromkeys(message_keys))

        def lookup(conn: Connection) -> dict[str, str]:
            found = {}
            for start in range(0, len(keys), _CHUNK):
                query = select(IngestedMessage.message_key, IngestedMessage.event_id).where(
                    IngestedMessage.message_key.in_(keys[start : start + _CHUNK])
                )
                found.update({key: event_id for key, event_id in conn.execute(query).all()})
            return found

        return await self._hot(lookup)

    async def record(self, row: IngestedMessage) -> bool:
        """Insert ``row``; ``False`` if its key is already there. Raises ``LedgerUnavailable``."""
        return await self.record_batch([row], []) == 1

    async def record_batch(self, rows: list[IngestedMessage], raws: list[RawPayload]) -> int:
        """Insert ``rows`` and ``raws`` in one transaction, ignoring keys already present; the
        number of ``rows`` inserted. Raises ``LedgerUnavailable``."""
        raw_rows, ledger_rows = [_columns(raw) for raw in raws], [_columns(row) for row in rows]

        def write(conn: Connection) -> int:
            _insert_ignore_sync(conn, RawPayload, raw_rows)
            return _insert_ignore_sync(conn, IngestedMessage, ledger_rows)

        return await self._hot(write, write=True)

    async def _hot(self, work: Callable[[Connection], T], write: bool = False) -> T:
        """Run ``work`` on a ledger thread in one connection (one committed transaction when
        ``write``). Raises ``LedgerUnavailable``."""

        def run() -> T:
            with self._hot_engine.begin() if write else self._hot_engine.connect() as conn:
                return work(conn)

        async with self._contact():
            return await asyncio.get_running_loop().run_in_executor(self._hot_threads, run)

    async def prune(self, messages_before: datetime, raw_before: datetime) -> tuple[int, int]:
        """Delete ledger rows and raw bodies older than the cut-offs; the counts deleted."""
        async with self.session(write=True) as session:
            messages = await session.execute(
                delete(IngestedMessage).where(IngestedMessage.received_at < messages_before)
            )
            raws = await session.execute(
                delete(RawPayload).where(RawPayload.received_at < raw_before)
            )
        return messages.rowcount, raws.rowcount

    async def accepted_events(
        self, since: datetime, until: datetime | None = None, chunk: int = 500
    ) -> AsyncIterator[list[str]]:
        """The events (envelope JSON) recorded from ``since`` (to ``until``), oldest first, in
        lists of up to ``chunk``. Raises ``LedgerUnavailable``."""
        query = (
            select(IngestedMessage.event)
            .where(IngestedMessage.received_at >= since, IngestedMessage.event.is_not(None))
            .order_by(IngestedMessage.received_at, IngestedMessage.message_key)
        )
        if until is not None:
            query = query.where(IngestedMessage.received_at < until)
        async with self.connection() as conn:
            result = await conn.stream(query.execution_options(yield_per=chunk))
            async for rows in result.partitions(chunk):
                yield [event for (event,) in rows]

    async def raw(self, sha256: str) -> RawPayload | None:
        async with self.session() as session:
            return await session.get(RawPayload, sha256)

    async def watch(self, interval_s: float = 5.0) -> None:
        """Ping the database every ``interval_s`` to keep ``reachable`` current. Cancel to stop."""
        while True:
            try:
                async with self._contact(), self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            except LedgerUnavailable:
                pass
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        await self.engine.dispose()
        self._hot_threads.shutdown(wait=True)
        self._hot_engine.dispose()

    @asynccontextmanager
    async def connection(self, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A Core connection (hot path: no ORM session), in a committed transaction when ``write``.
        Raises ``LedgerUnavailable``."""
        async with self._contact(), self.engine.begin() if write else self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def session(self, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A session (a transaction committed on exit when ``write``). Raises ``LedgerUnavailable``."""
        async with self._contact():
            factory = self._sessions.begin() if write else self._sessions()
            async with factory as session:
                yield session

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


async def insert_ignore(
    executor: AsyncSession | AsyncConnection, table: type, rows: list[dict]
) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; the number of rows inserted."""
    if not rows:
        return 0
    bind = executor if isinstance(executor, AsyncConnection) else executor.bind
    result = await executor.execute(_insert_ignore_statement(bind.dialect.name, table), rows)
    return len(result.all())


def _insert_ignore_statement(dialect_name: str, table: type):
    """INSERT … ON CONFLICT DO NOTHING RETURNING <key>, with the rows passed as parameters.

    Core, not the ORM entity: the ORM bulk path inspects every row. One cached statement with the
    rows as parameters (SQLAlchemy batches them as "insertmanyvalues"): .values(rows) would
    compile a new statement per call. RETURNING rather than rowcount: the async PostgreSQL
    driver reports -1 for this statement."""
    core = table.__table__
    return (
        db.dialect_insert(dialect_name)(core)
        .on_conflict_do_nothing()
        .returning(core.primary_key.columns.values()[0])
    )


def _insert_ignore_sync(conn: Connection, table: type, rows: list[dict]) -> int:
    """``insert_ignore`` for a synchronous connection (the ledger threads)."""
    if not rows:
        return 0
    return len(conn.execute(_insert_ignore_statement(conn.dialect.name, table), rows).all())


def _columns(row) -> dict:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes (stored as UTC): make them aware."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def new_row(
    message_key: str,
    event_id: str,
    source: str,
    webhook_id: str | None,
    at: datetime,
    event: str | None = None,
) -> IngestedMessage:
    return IngestedMessage(
        message_key=message_key,
        event_id=event_id,
        source=source,
        webhook_id=webhook_id,
        received_at=at,
        event=event,
    )
