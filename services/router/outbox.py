"""The router's transactional outbox: events it emits outside a consumer's produce path.

The sweeper's re-offers (and the assignments made after skills relaxed), re-offers after a
helpdesk resolved an item, four-eyes releases and manual assignments through the API, and
re-tag corrections for the classifier are not answers to a consumed record whose offset
commit could wait for the broker. So ``add`` writes the encoded event into ``router_outbox``
in the *same* database transaction as the change it reports; after the commit ``Relay.relay``
publishes unsent rows in order (``acks=all``), then stamps them sent and hands them to the
Standard Webhooks bridge. A crash between commit and publish leaves the row unsent and the
next relay (on start, every second, or when woken) sends it; a crash between publish and the
stamp sends it again with the same event id: at-least-once, and every consumer deduplicates
on ``ce_id``. Event ids are derived (``derived_id``), never random, so re-running a change
yields the same id too.

Several router replicas each run a relay. On PostgreSQL one relay round at a time holds a
transaction-scoped advisory lock (``RELAY_LOCK``) from reading the unsent rows to stamping them
sent, so two replicas never publish the same rows (nor out of order); a replica that finds the
lock taken skips the round — the holder is sending. SQLite is the single-process embedded
default: there the process's own lock serialises relays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from prometheus_client import Gauge
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.settings import RouterSettings
from services.router.tables import OutboxRow
from shared import kafka, topics
from shared.codec import decode, encode
from shared.events import Assignment, Envelope, ItemAssigned, derived_id
from shared.logging import get_logger

log = get_logger(__name__)
SOURCE = "switchboard/router"
RETENTION = timedelta(days=7)  # sent rows kept this long (inspection), then pruned
PENDING = Gauge(
    "switchboard_router_outbox_pending", "Router outbox events committed but not yet published"
)
RELAY_LOCK = 0x5357_4F55_5442_4F58  # pg advisory lock key ("SWOUTBOX"): one relay round at a time


def assigned_event(a: Assignment, correlation_id: str) -> ItemAssigned:
    """The published form of an assignment; its id is derived, so re-publishing deduplicates."""
    return ItemAssigned(
        id=derived_id(
            a.item_id, f"router:assigned:{a.agent_id}:{a.assigned_at.astimezone(UTC).isoformat()}"
        ),
        source=SOURCE,
        time=a.assigned_at,
        correlation_id=correlation_id,
        subject=a.conversation_key,
        data=a,
    )


async def add(session: AsyncSession, topic: str, event: Envelope, now: datetime) -> bool:
    """Add ``event`` for ``topic`` (registered or per-queue, unqualified) to ``session``; the
    caller commits it with its change. An (event id, topic) already in the outbox is skipped,
    so re-running a change adds nothing. Returns whether a row was added."""
    topics.qualified(topic)  # refuse an unknown topic now, not in the relay
    known = await session.scalar(
        select(OutboxRow.seq).where(OutboxRow.event_id == event.id, OutboxRow.topic == topic)
    )
    if known is not None:
        return False
    enc = encode(event)
    session.add(
        OutboxRow(
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


def row_event(row: OutboxRow) -> Envelope:
    """The typed event a row carries (for the webhook bridge)."""
    return decode([(k, v.encode()) for k, v in row.headers], row.value.encode())


class Relay:
    """Publishes the outbox. One per process; on PostgreSQL one replica relays at a time."""

    def __init__(
        self,
        sessions,
        settings: RouterSettings,
        client_id: str = "router-outbox",
        bridge=None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._sessions, self._settings, self._client_id = sessions, settings, client_id
        self.bridge, self._clock = bridge, clock or (lambda: datetime.now(UTC))
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self._pruned_at: datetime | None = None

    def notify(self) -> None:
        """Ask the relay loop to run now (something was committed to the outbox)."""
        self.wake.set()

    async def pending(self) -> int:
        """Unsent rows (also exported as ``switchboard_router_outbox_pending``)."""
        async with self._sessions() as session:
            count = int(
                await session.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None))
                )
                or 0
            )
        PENDING.set(count)
        return count

    async def relay(self, limit: int = 500) -> int:
        """Publish unsent rows (oldest first) and wait for acks; mark them sent. Returns how many.
        Raises the producer's error (rows stay unsent, their attempts counted)."""
        async with self._lock, self._sessions() as session:
            if not await self._exclusive(session):
                return 0  # another replica is relaying these rows right now
            rows = (
                (
                    await session.execute(
                        select(OutboxRow)
                        .where(OutboxRow.sent_at.is_(None))
                        .order_by(OutboxRow.seq)
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
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
                update(OutboxRow)
                .where(OutboxRow.seq.in_(seqs))
                .values(sent_at=now, attempts=OutboxRow.attempts + 1, last_error=None)
            )
            await session.commit()  # releases the advisory lock
            if self.bridge is not None:
                events = {r.event_id: r for r in rows}
                await self.bridge.enqueue([row_event(r) for r in events.values()], now)
            log.info("router.outbox_relayed", events=len(rows))
            return len(rows)

    async def drain(self) -> int:
        """Relay until nothing is left. Returns how many rows were sent."""
        total = 0
        try:
            while (sent := await self.relay()) > 0:
                total += sent
        finally:
            await self.pending()
        return total

    @staticmethod
    async def _exclusive(session: AsyncSession) -> bool:
        """Take ``RELAY_LOCK`` for this transaction (PostgreSQL); False when another replica holds it."""
        if session.bind.dialect.name != "postgresql":
            return True
        return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK))))

    async def _send(self, rows: list[OutboxRow]) -> None:
        producer = await self._started()
        futures = []
        ns = self._settings.kafka_topic_namespace
        for r in rows:
            futures.append(
                await producer.send(
                    topics.qualified(r.topic, ns),
                    value=r.value.encode(),
                    key=r.key.encode() if r.key is not None else None,
                    headers=[(k, v.encode()) for k, v in r.headers],
                )
            )
        await asyncio.gather(*futures)

    async def _failed(self, seqs: list[int], error: str) -> None:
        log.warning("router.outbox_failed", events=len(seqs), error=error[:500])
        async with self._sessions() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.seq.in_(seqs))
                .values(attempts=OutboxRow.attempts + 1, last_error=error[:1024])
            )
            await session.commit()

    async def _prune(self) -> None:
        now = self._clock().astimezone(UTC)
        if self._pruned_at is not None and now - self._pruned_at < timedelta(minutes=10):
            return
        self._pruned_at = now
        async with self._sessions() as session:
            await session.execute(
                delete(OutboxRow).where(
                    OutboxRow.sent_at.is_not(None), OutboxRow.sent_at < now - RETENTION
                )
            )
            await session.commit()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = kafka.producer(self._settings, self._client_id)
            await producer.start()
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


__all__ = ["Relay", "add", "assigned_event", "row_event"]
