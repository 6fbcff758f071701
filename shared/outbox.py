"""The transactional outbox, for events a service emits outside a consumer's produce path.

A service maps its own outbox table on ``OutboxColumns`` (``router_outbox``,
``notifier_outbox``). ``add`` writes the encoded event into it in the *same* database
transaction as the change it reports; after the commit ``Relay.relay`` publishes unsent rows in
order (``acks=all``), then stamps them sent. A crash between commit and publish leaves the row
unsent and the next relay (on start, every second, or when woken) sends it; a crash between
publish and the stamp sends it again with the same event id: at-least-once, and every consumer
deduplicates on ``ce_id``. Event ids are derived, never random, so re-running a change yields
the same id too.

Every send is bounded: a round's records must be acknowledged within twice
``KAFKA_REQUEST_TIMEOUT_MS``; a failed or timed-out send is tried once more after a short
back-off with a fresh producer, then the round gives up with its rows unsent (``attempts`` and
``last_error`` recorded) and a later round sends them. ``drain`` (the relay loop's job) waits out
an outage of the broker or the database quietly (logged when it starts, every 30 s while it
lasts, and when it is over) instead of failing every second.

Several replicas each run a relay. On PostgreSQL one round at a time holds a transaction-scoped
advisory lock (``lock_key``) from reading the unsent rows to stamping them sent, so two replicas
never publish the same rows (nor out of order); a replica that finds the lock taken skips the
round — the holder is sending. SQLite is the single-process embedded default: there the
process's own lock serialises relays.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import Gauge
from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared import kafka, topics
from shared.codec import decode, encode
from shared.events import Envelope
from shared.logging import get_logger
from shared.outage import BROKER, Backoff, Waiting, bounded, unavailable
from shared.settings import CommonSettings

log = get_logger(__name__)
RETENTION = timedelta(days=7)  # sent rows kept this long (inspection), then pruned
SEND_ATTEMPTS = 2  # per round: a failed send is tried once more with a fresh producer


class OutboxColumns:
    """The columns of a service's outbox table (a mixin: the service maps it on ``Base`` with its
    own ``__tablename__``). The row holds the encoded Kafka record: ``topic`` unqualified,
    ``value`` the JSON data, ``headers`` the CloudEvents headers as ``[[name, text], …]``."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple:
        return (
            UniqueConstraint("event_id", "topic", name=f"uq_{cls.__tablename__}_event_topic"),  # type: ignore[attr-defined]
        )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), nullable=False)
    event_type: Mapped[str] = mapped_column(String(128), nullable=False)
    topic: Mapped[str] = mapped_column(String(249), nullable=False)
    key: Mapped[str | None] = mapped_column(String(1024))
    value: Mapped[str] = mapped_column(Text, nullable=False)
    headers: Mapped[list] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1024))


async def add(
    session: AsyncSession, table: Any, topic: str, event: Envelope, now: datetime
) -> bool:
    """Add ``event`` for ``topic`` (registered or per-queue, unqualified) to ``session`` as a row
    of ``table``; the caller commits it with its change. An (event id, topic) already in the
    outbox is skipped, so re-running a change adds nothing. Returns whether a row was added."""
    topics.qualified(topic)  # refuse an unknown topic now, not in the relay
    known = await session.scalar(
        select(table.seq).where(table.event_id == event.id, table.topic == topic)
    )
    if known is not None:
        return False
    enc = encode(event)
    session.add(
        table(
            event_id=event.id,
            event_type=event.event_type,
            topic=topic,
            key=enc.key.decode() if enc.key is not None else None,
            value=enc.value.decode(),
            headers=[[k, v.decode()] for k, v in enc.headers],
            created_at=now.astimezone(UTC),
            attempts=0,
        )
    )
    return True


def row_event(row: OutboxColumns) -> Envelope:
    """The typed event a row carries."""
    return decode([(k, v.encode()) for k, v in row.headers], row.value.encode())


class Relay:
    """Publishes one service's outbox table. One per process; on PostgreSQL one replica relays
    at a time. Subclasses may override ``on_sent`` (after the rows were stamped sent)."""

    def __init__(
        self,
        sessions,
        table: Any,
        settings: CommonSettings,
        *,
        service: str,
        client_id: str,
        lock_key: int,
        gauge: Gauge | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._sessions, self._settings = sessions, settings
        self._table: Any = table  # a mapped OutboxColumns table
        self._service, self._client_id, self._lock_key = service, client_id, lock_key
        self._gauge, self._clock = gauge, clock or (lambda: datetime.now(UTC))
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self._pruned_at: datetime | None = None
        self._waiting = Waiting(f"{service}:outbox")

    def notify(self) -> None:
        """Ask the relay loop to run now (something was committed to the outbox)."""
        self.wake.set()

    @property
    def timeout_s(self) -> float:
        """How long one round's sends may take: queueing, then the acknowledgements."""
        return 2 * self._settings.kafka_request_timeout_ms / 1000

    async def pending(self) -> int:
        """Unsent rows (also exported on the service's gauge)."""
        t = self._table
        async with self._sessions() as session:
            count = int(
                await session.scalar(select(func.count()).select_from(t).where(t.sent_at.is_(None)))
                or 0
            )
        if self._gauge is not None:
            self._gauge.set(count)
        return count

    async def relay(self, limit: int = 500) -> int:
        """Publish unsent rows (oldest first) and wait for acks, bounded; mark them sent. Returns
        how many. Raises the send's error (rows stay unsent, their attempts counted)."""
        t = self._table
        async with self._lock, self._sessions() as session:
            if not await self._exclusive(session):
                return 0  # another replica is relaying these rows right now
            query = select(t).where(t.sent_at.is_(None)).order_by(t.seq).limit(limit)
            rows = list((await session.execute(query)).scalars().all())
            if not rows:
                await session.commit()
                await self._prune()
                return 0
            seqs = [r.seq for r in rows]  # read now: a rollback expires the rows
            try:
                await self._send(rows)
            except Exception as exc:
                await session.rollback()
                await self._failed(seqs, f"{type(exc).__name__}: {exc}")
                raise
            now = self._clock().astimezone(UTC)
            await session.execute(
                update(t)
                .where(t.seq.in_(seqs))
                .values(sent_at=now, attempts=t.attempts + 1, last_error=None)
            )
            await session.commit()  # releases the advisory lock
            await self.on_sent(rows, now)
            log.info(f"{self._service}.outbox_relayed", events=len(rows))
            return len(rows)

    async def on_sent(self, rows: Sequence[OutboxColumns], now: datetime) -> None:
        """After ``rows`` were published and stamped sent. Default: nothing."""

    async def drain(self) -> int:
        """Relay until nothing is left; returns how many rows were sent. An outage of the broker
        or the database ends the drain quietly (the rows stay for the next one); any other
        error is raised."""
        total = 0
        try:
            while (sent := await self.relay()) > 0:
                total += sent
            self._waiting.over()
            await self.pending()
        except Exception as exc:
            gone = unavailable(exc)
            if gone is None:
                raise
            self._waiting.saw(gone, exc)
        return total

    async def _exclusive(self, session: AsyncSession) -> bool:
        """Take the advisory lock for this transaction (PostgreSQL); False when another replica
        holds it."""
        if session.get_bind().dialect.name != "postgresql":
            return True
        return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(self._lock_key))))

    async def _send(self, rows: Sequence[OutboxColumns]) -> None:
        """Publish ``rows`` in order and await every ack within ``timeout_s``; once more after a
        short back-off with a fresh producer when that fails. Raises the last error."""
        backoff = Backoff(first_s=0.2)
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await bounded(self._send_once(rows), self.timeout_s, BROKER, "outbox relay")
                return
            except Exception:
                await self._discard_producer()
                if attempt == SEND_ATTEMPTS:
                    raise
                await asyncio.sleep(backoff.next())

    async def _send_once(self, rows: Sequence[OutboxColumns]) -> None:
        producer = await self._started()
        ns = self._settings.kafka_topic_namespace
        futures = [
            await producer.send(
                topics.qualified(r.topic, ns),
                value=r.value.encode(),
                key=r.key.encode() if r.key is not None else None,
                headers=[(k, v.encode()) for k, v in r.headers],
            )
            for r in rows
        ]
        await asyncio.gather(*futures)

    async def _failed(self, seqs: list[int], error: str) -> None:
        """Count the failed attempt on the rows; skipped when the database is away too."""
        log.warning(f"{self._service}.outbox_failed", events=len(seqs), error=error[:500])
        t = self._table
        try:
            async with self._sessions() as session:
                await session.execute(
                    update(t)
                    .where(t.seq.in_(seqs))
                    .values(attempts=t.attempts + 1, last_error=error[:1024])
                )
                await session.commit()
        except Exception as exc:  # noqa: BLE001 - bookkeeping only; the rows stay unsent
            if unavailable(exc) is None:
                raise

    async def _prune(self) -> None:
        now = self._clock().astimezone(UTC)
        if self._pruned_at is not None and now - self._pruned_at < timedelta(minutes=10):
            return
        self._pruned_at = now
        t = self._table
        async with self._sessions() as session:
            await session.execute(
                delete(t).where(t.sent_at.is_not(None), t.sent_at < now - RETENTION)
            )
            await session.commit()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = kafka.producer(self._settings, self._client_id)
            try:
                await producer.start()
            except BaseException:
                await self._stop(producer)
                raise
            self._producer = producer
        return self._producer

    async def _discard_producer(self) -> None:
        """Drop the producer after a failed send: the next try starts a fresh one."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._stop(producer)

    async def _stop(self, producer: AIOKafkaProducer) -> None:
        """Stop ``producer`` within ``timeout_s`` (it would flush into an unreachable broker)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), self.timeout_s)

    async def close(self) -> None:
        await self._discard_producer()


__all__ = ["OutboxColumns", "Relay", "add", "row_event"]
