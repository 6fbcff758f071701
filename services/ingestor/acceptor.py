"""Accepting what a verified webhook carried: deduplicate, publish every new message and wait
for every ack, dead-letter unhandled kinds, then record the ledger rows and the raw body.

``accept`` returns an ``Acceptance`` only when the broker acknowledged everything; otherwise it
records the messages that were acknowledged (so the platform's retry skips them) and raises a
503 ``Rejected``. Deferred messages (Instagram mentions, whose text needs a fetch) are not
published here but held in the database for the enrichment worker (``mentions``); they count as
accepted once held. HTTP-free; the endpoints shape the answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from services.ingestor.delivery import Delivery, DeliveryUnavailable
from services.ingestor.errors import unavailable
from services.ingestor.ledger import Ledger, LedgerUnavailable, new_row
from services.ingestor.mentions import HeldMessages
from services.ingestor.mentions import event_id as mention_event_id
from services.ingestor.metrics import (
    IGNORED_EVENTS,
    INVALID_ITEMS,
    MESSAGES,
    SKIPPED_EVENTS,
    bounded,
)
from services.ingestor.normalized import Invalid, Item, Parsed, RawBody
from services.ingestor.recorder import Lookups, Recorder
from services.ingestor.settings import IngestorSettings
from services.ingestor.tables import RawPayload
from shared import topics
from shared.codec import Encoded, encode
from shared.events import MessageReceived, derived_id, utcnow
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERED

log = get_logger(__name__)


@dataclass
class Acceptance:
    accepted: list[str] = field(default_factory=list)  # event ids, in payload order
    duplicates: list[str] = field(default_factory=list)
    skipped: int = 0
    unhandled: list[str] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)  # malformed items (dead-lettered, once)


class Acceptor:
    """Wired to the producer and the ledger; one per app."""

    def __init__(self, settings: IngestorSettings, delivery: Delivery, ledger: Ledger) -> None:
        self._delivery, self._recorder, self._lookups = delivery, Recorder(ledger), Lookups(ledger)
        self.held = HeldMessages(ledger)
        self._raw_topic = topics.qualified(topics.RAW, settings.kafka_topic_namespace)
        self._dlq_topic = topics.dlq_for(topics.RAW, settings.kafka_topic_namespace)

    async def accept(
        self, source: str, parsed: Parsed, raw: RawBody | None, correlation_id: str
    ) -> Acceptance:
        """Deliver ``parsed`` (blocks until acked). Raises ``Rejected`` (503) when anything is not.
        ``raw`` is the body to keep, unless the messages' ``raw_ref`` names one already kept.
        Each malformed item (``parsed.invalid``) goes to the dead-letter topic once: its ledger
        key is recorded after the ack, so a re-sent delivery does not dead-letter it again."""
        result = Acceptance(
            skipped=len(parsed.skipped), unhandled=parsed.unhandled, invalid=parsed.invalid
        )
        invalid = {bad.dedup_key(source): bad for bad in parsed.invalid}
        fresh, known = await self._fresh(parsed.items + parsed.deferred, list(invalid))
        result.duplicates = [
            known[item.dedup_key]
            for item in parsed.items + parsed.deferred
            if item.dedup_key in known
        ]
        deferred = {item.dedup_key for item in parsed.deferred}
        held = await self._hold(
            source,
            [item for item in fresh if item.dedup_key in deferred],
            raw,
            correlation_id,
            result,
        )
        fresh = [item for item in fresh if item.dedup_key not in deferred]
        events = [self._event(source, item, correlation_id) for item in fresh]
        letters = [(key, bad) for key, bad in invalid.items() if key not in known]
        sends = [self._publish(self._raw_topic, encode(event), "raw") for event in events]
        sends += [
            self._publish(self._dlq_topic, _invalid_letter(source, correlation_id, raw, bad), "dlq")
            for _, bad in letters
        ]
        if parsed.unhandled:
            sends.append(
                self._publish(
                    self._dlq_topic,
                    _dead_letter(source, correlation_id, raw, parsed.unhandled),
                    "dlq",
                )
            )
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
        acked = [
            (item, event) for item, event, error in zip(fresh, events, outcomes) if error is None
        ]
        lettered = [
            key for (key, _), error in zip(letters, outcomes[len(events) :]) if error is None
        ]
        await self._remember(
            source,
            correlation_id,
            acked,
            lettered,
            raw if acked or parsed.unhandled or parsed.invalid else None,
        )
        self._count(source, parsed, len(acked), len(result.duplicates), [bad for _, bad in letters])
        failure = next((error for error in outcomes if error is not None), None)
        if failure is not None:
            raise unavailable("broker_unavailable", str(failure)) from None
        result.accepted = [event.id for _, event in acked] + held
        return result

    async def _hold(
        self,
        source: str,
        items: list[Item],
        raw: RawBody | None,
        correlation_id: str,
        result: Acceptance,
    ) -> list[str]:
        """Hold deferred ``items`` for the enrichment worker; their event ids. One already waiting
        (a re-sent webhook) counts as a duplicate. Raises ``Rejected`` (503) if the database is down."""
        if not items:
            return []
        if raw is None:
            raise ValueError("deferred messages need the raw body they came in")
        payload = RawPayload(
            sha256=raw.sha256,
            source=source,
            content_type=raw.content_type[:128],
            received_at=utcnow(),
            body=raw.body,
        )
        try:
            held = await self.held.hold(source, items, payload, correlation_id, utcnow())
        except LedgerUnavailable as exc:
            raise unavailable("database_unavailable", f"could not hold mentions ({exc})") from None
        result.duplicates += [
            event_id for event_id in map(mention_event_id, items) if event_id not in held
        ]
        return held

    async def _fresh(
        self, items: list[Item], other_keys: list[str] = ()
    ) -> tuple[list[Item], dict[str, str]]:
        """Items not in the ledger, first copy only; and ``{key: event id}`` of known ones (and
        of ``other_keys`` that are known: dead-lettered items)."""
        keys = [item.dedup_key for item in items] + list(other_keys)
        try:
            known = await self._lookups.find_many(keys) if keys else {}
        except LedgerUnavailable as exc:
            raise unavailable("database_unavailable", f"dedup ledger unreachable ({exc})") from None
        seen: set[str] = set()
        fresh = [
            item
            for item in items
            if item.dedup_key not in known
            and not (item.dedup_key in seen or seen.add(item.dedup_key))
        ]
        return fresh, known

    @staticmethod
    def _event(source: str, item: Item, correlation_id: str) -> MessageReceived:
        return MessageReceived(
            id=derived_id(item.dedup_key, "ingestor"),
            source=f"switchboard/ingestor/{source}",
            time=utcnow(),
            correlation_id=correlation_id,
            subject=item.message.conversation_key,
            data=item.message,
        )

    async def _publish(self, topic: str, record: Encoded, kind: str) -> None:
        try:
            await self._delivery.publish(topic, record, kind)
        except DeliveryUnavailable as exc:
            log.warning("kafka.unavailable", topic=topic, reason=str(exc))
            raise

    async def _remember(
        self,
        source: str,
        correlation_id: str,
        acked: list,
        lettered: list[str],
        raw: RawBody | None,
    ) -> None:
        """Record acknowledged events (and dead-lettered items) with the events as published.
        Failing here answers 503: Kafka has the events, but only the ledger's copy survives a
        broker that loses its memory (``republish``), so the platform must send again — the
        re-send publishes the same event ids, which every consumer deduplicates."""
        now = utcnow()
        rows = [
            new_row(item.dedup_key, event.id, source, correlation_id, now, event.model_dump_json())
            for item, event in acked
        ]
        rows += [
            new_row(key, derived_id(key, "ingestor-dlq"), source, correlation_id, now)
            for key in lettered
        ]
        payload = (
            RawPayload(
                sha256=raw.sha256,
                source=source,
                content_type=raw.content_type[:128],
                received_at=now,
                body=raw.body,
            )
            if raw is not None
            else None
        )
        if not rows and payload is None:
            return
        try:
            await self._recorder.record(rows, payload)
        except LedgerUnavailable as exc:
            log.error(
                "db.record_failed",
                source=source,
                events=[event.id for _, event in acked],
                error=str(exc),
            )
            raise unavailable(
                "database_unavailable", f"published but not recorded; send again ({exc})"
            ) from None

    @staticmethod
    def _count(
        source: str, parsed: Parsed, accepted: int, duplicates: int, lettered: list[Invalid]
    ) -> None:
        MESSAGES.labels(source, "accepted").inc(accepted)
        if parsed.invalid:
            INVALID_ITEMS.labels(source).inc(len(parsed.invalid))
            log.warning(
                "webhook.invalid_items",
                source=source,
                dead_lettered=len(lettered),
                items=[bad.error[:300] for bad in parsed.invalid[:10]],
            )
        if lettered:
            DEAD_LETTERED.labels("ingestor", topics.RAW, "invalid_item").inc(len(lettered))
        MESSAGES.labels(source, "duplicate").inc(duplicates)
        for kind in parsed.skipped:
            SKIPPED_EVENTS.labels(source, bounded(kind)).inc()
        if parsed.unhandled:
            IGNORED_EVENTS.labels(source).inc(len(parsed.unhandled))
            DEAD_LETTERED.labels("ingestor", topics.RAW, "unhandled_event_type").inc(
                len(parsed.unhandled)
            )
            log.info("webhook.unhandled", source=source, kinds=parsed.unhandled[:10])


def _dead_letter(source: str, correlation_id: str, raw: RawBody, kinds: list[str]) -> Encoded:
    """The whole body, with headers naming what was not handled (replayable once it is)."""
    names = ", ".join(sorted(set(kinds)))[:512]
    headers = [
        ("dlq.reason", b"unhandled_event_type"),
        ("dlq.error", f"unhandled webhook event type(s): {names}".encode()),
        ("dlq.source.service", b"ingestor"),
        ("dlq.source.webhook", source.encode()),
        ("webhook-id", correlation_id.encode()),
        ("dlq.raw_ref", raw.ref.encode()),
        (
            "content-type",
            (raw.content_type or "application/octet-stream").encode("latin-1", "replace"),
        ),
    ]
    return Encoded(correlation_id.encode(), raw.body, headers)


def _invalid_letter(source: str, correlation_id: str, raw: RawBody | None, bad: Invalid) -> Encoded:
    """One malformed item: its own JSON, with headers saying where it was in which delivery (the
    whole delivery is kept at ``dlq.raw_ref``) and why it was refused."""
    headers = [
        ("dlq.reason", b"invalid_item"),
        ("dlq.error", f"{bad.path}: {bad.error}"[:1024].encode("utf-8", "replace")),
        ("dlq.item_path", bad.path[:512].encode("utf-8", "replace")),
        ("dlq.source.service", b"ingestor"),
        ("dlq.source.webhook", source.encode()),
        ("webhook-id", correlation_id.encode()),
        ("content-type", b"application/json"),
    ]
    if raw is not None:
        headers.append(("dlq.raw_ref", raw.ref.encode()))
    return Encoded(correlation_id.encode(), bad.item, headers)
