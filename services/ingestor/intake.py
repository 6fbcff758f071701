"""What happens to one size-checked webhook body: verify, parse, normalise, deduplicate,
deliver, record. HTTP-free: it answers with a ``Reply`` or raises ``Rejected``.

Order matters: the signature is checked over the raw bytes before anything is parsed; the
dedup row is written only after Kafka acknowledged the event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from services.ingestor import payload
from services.ingestor.delivery import Delivery, DeliveryUnavailable
from services.ingestor.errors import Rejected, invalid, unavailable
from services.ingestor.ledger import Ledger, LedgerUnavailable, new_row
from services.ingestor.metrics import IGNORED_EVENTS
from services.ingestor.verification import SignatureRejected, VerifiedWebhook, verify
from shared import topics
from shared.codec import Encoded, encode
from shared.events import CanonicalMessage, MessageReceived, derived_id, utcnow
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERED
from shared.settings import IngestorSettings

log = get_logger(__name__)
_WEBHOOK_ID = 128  # the envelope's correlation_id limit


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict
    outcome: str


class Intake:
    """The ingestor's use case, wired to a delivery and a ledger."""

    def __init__(self, settings: IngestorSettings, keys: Mapping[str, bytes], delivery: Delivery,
                 ledger: Ledger, clock: Callable[[], float] = time.time) -> None:
        self._settings, self._keys, self._clock = settings, keys, clock
        self._delivery, self._ledger = delivery, ledger
        self._raw_topic = topics.qualified(topics.RAW, settings.kafka_topic_namespace)
        self._dlq_topic = topics.dlq_for(topics.RAW, settings.kafka_topic_namespace)

    async def receive(self, source: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Handle a webhook for a configured ``source``. Raises ``Rejected`` (4xx/503)."""
        webhook = self._verify(source, headers, body)
        envelope = _envelope(body)
        if envelope.type != payload.MESSAGE_CREATED:
            return await self._ignore(source, webhook, envelope.type, body)
        message = _message(envelope, source)
        return await self._deliver(source, webhook, message)

    def _verify(self, source: str, headers: Mapping[str, str], body: bytes) -> VerifiedWebhook:
        try:
            webhook = verify(self._keys[source], headers, body,
                             tolerance_s=self._settings.webhook_tolerance_s, now=self._clock())
        except SignatureRejected as exc:
            raise Rejected(401, exc.reason, exc.detail, "unauthorized") from None
        if len(webhook.webhook_id) > _WEBHOOK_ID or not webhook.webhook_id.isprintable():
            raise Rejected(400, "invalid_webhook_id", f"webhook-id must be printable, at most {_WEBHOOK_ID} characters",
                           "malformed")
        return webhook

    async def _deliver(self, source: str, webhook: VerifiedWebhook, message: CanonicalMessage) -> Reply:
        key = message.message_key
        known = await self._known(key)
        if known is not None:
            log.info("webhook.duplicate", source=source, event_id=known, webhook_id=webhook.webhook_id)
            return Reply(200, {"status": "duplicate", "event_id": known}, "duplicate")
        event = MessageReceived(id=derived_id(key, "ingestor"), source=f"switchboard/ingestor/{source}",
                                time=utcnow(), correlation_id=webhook.webhook_id,
                                subject=message.conversation_key, data=message)
        await self._publish(self._raw_topic, encode(event), "raw")
        await self._remember(new_row(key, event.id, source, webhook.webhook_id, event.time))
        log.info("webhook.accepted", source=source, event_id=event.id, webhook_id=webhook.webhook_id)
        return Reply(202, {"status": "accepted", "event_id": event.id}, "accepted")

    async def _ignore(self, source: str, webhook: VerifiedWebhook, event_type: str, body: bytes) -> Reply:
        """Dead-letter an event type we do not handle and answer 2xx: a retry would not help."""
        headers = [("dlq.reason", b"unhandled_event_type"),
                   ("dlq.error", f"unhandled webhook event type {event_type!r}".encode()),
                   ("dlq.source.service", b"ingestor"), ("dlq.source.webhook", source.encode()),
                   ("webhook-id", webhook.webhook_id.encode()), ("content-type", b"application/json")]
        await self._publish(self._dlq_topic, Encoded(webhook.webhook_id.encode(), body, headers), "dlq")
        IGNORED_EVENTS.labels(source).inc()
        DEAD_LETTERED.labels("ingestor", topics.RAW, "unhandled_event_type").inc()
        log.info("webhook.ignored", source=source, event_type=event_type[:64], webhook_id=webhook.webhook_id)
        return Reply(202, {"status": "ignored", "reason": "unhandled_event_type", "type": event_type}, "ignored")

    async def _publish(self, topic: str, record: Encoded, kind: str) -> None:
        try:
            await self._delivery.publish(topic, record, kind)
        except DeliveryUnavailable as exc:
            log.warning("kafka.unavailable", topic=topic, reason=str(exc))
            raise unavailable("broker_unavailable", str(exc)) from None

    async def _known(self, message_key: str) -> str | None:
        try:
            return await self._ledger.find(message_key)
        except LedgerUnavailable as exc:
            raise unavailable("database_unavailable", f"dedup ledger unreachable ({exc})") from None

    async def _remember(self, row) -> None:
        """Record an acknowledged event. Failing here is logged, not answered: Kafka has it."""
        try:
            await self._ledger.record(row)
        except LedgerUnavailable as exc:
            log.error("db.record_failed", message_key=row.message_key, event_id=row.event_id, error=str(exc))


def _envelope(body: bytes) -> payload.WebhookEnvelope:
    try:
        document = payload.parse_json(body)
    except payload.MalformedJson as exc:
        raise Rejected(400, "malformed_json", str(exc), "malformed") from None
    try:
        return payload.WebhookEnvelope.model_validate(document)
    except ValidationError as exc:
        raise invalid(exc) from None


def _message(envelope: payload.WebhookEnvelope, source: str) -> CanonicalMessage:
    try:
        return payload.to_canonical(payload.GenericMessage.model_validate(envelope.data), source)
    except ValidationError as exc:
        raise invalid(exc, prefix=("data",)) from None
