"""Standard Webhooks intake: verify (any active secret of the source), parse, normalise, then
hand to the ``Acceptor`` (dedup, publish with acks, record). HTTP-free: it answers with a
``Reply`` or raises ``Rejected``.

Order matters: the signature is checked over the raw bytes before anything is parsed; the
dedup row is written only after Kafka acknowledged the event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from services.ingestor import payload
from services.ingestor.batch import Acceptor, RawBody
from services.ingestor.errors import Rejected, invalid
from services.ingestor.normalized import Parsed, edit_marker
from services.ingestor.settings import IngestorSettings
from services.ingestor.verification import SignatureRejected, VerifiedWebhook, verify
from shared.logging import get_logger

log = get_logger(__name__)
_WEBHOOK_ID = 128  # the envelope's correlation_id limit


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict
    outcome: str
    messages: int = 0


class Intake:
    """The Standard Webhooks use case, wired to the acceptor."""

    def __init__(self, settings: IngestorSettings, keys: Mapping[str, Sequence[bytes]], acceptor: Acceptor,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings, self._keys, self._clock, self._acceptor = settings, keys, clock, acceptor

    async def receive(self, source: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Handle a webhook for a configured ``source``. Raises ``Rejected`` (4xx/503)."""
        webhook = self._verify(source, headers, body)
        envelope = _envelope(body)
        raw = RawBody(body, headers.get("content-type", "application/json"))
        parsed = Parsed()
        if envelope.type != payload.MESSAGE_CREATED:
            parsed.unhandled.append(envelope.type)
        else:
            message = _message(envelope, source, raw.ref)
            parsed.add(message, edit_marker(message.text))
        result = await self._acceptor.accept(source, parsed, raw, webhook.webhook_id)
        if result.unhandled:
            log.info("webhook.ignored", source=source, event_type=envelope.type[:64], webhook_id=webhook.webhook_id)
            return Reply(202, {"status": "ignored", "reason": "unhandled_event_type", "type": envelope.type}, "ignored")
        if result.duplicates:
            log.info("webhook.duplicate", source=source, event_id=result.duplicates[0], webhook_id=webhook.webhook_id)
            return Reply(200, {"status": "duplicate", "event_id": result.duplicates[0]}, "duplicate", 1)
        log.info("webhook.accepted", source=source, event_id=result.accepted[0], webhook_id=webhook.webhook_id)
        return Reply(202, {"status": "accepted", "event_id": result.accepted[0]}, "accepted", 1)

    def _verify(self, source: str, headers: Mapping[str, str], body: bytes) -> VerifiedWebhook:
        try:
            webhook = verify(self._keys[source], headers, body,
                             tolerance_s=self._settings.webhook_tolerance_s, now=self._clock())
        except SignatureRejected as exc:
            raise signature_refused(exc) from None
        if len(webhook.webhook_id) > _WEBHOOK_ID or not webhook.webhook_id.isprintable():
            raise Rejected(400, "invalid_webhook_id", f"webhook-id must be printable, at most {_WEBHOOK_ID} characters",
                           "malformed")
        return webhook


def signature_refused(exc: SignatureRejected) -> Rejected:
    """403 when a signature is present but wrong; 401 when it is missing, malformed or stale."""
    status = 403 if exc.reason == "bad_signature" else 401
    return Rejected(status, exc.reason, exc.detail, "forbidden" if status == 403 else "unauthorized")


def _envelope(body: bytes) -> payload.WebhookEnvelope:
    try:
        document = payload.parse_json(body)
    except payload.MalformedJson as exc:
        raise Rejected(400, "malformed_json", str(exc), "malformed") from None
    try:
        return payload.WebhookEnvelope.model_validate(document)
    except ValidationError as exc:
        raise invalid(exc) from None


def _message(envelope: payload.WebhookEnvelope, source: str, raw_ref: str):
    try:
        event = payload.MessageCreated.model_validate({"type": envelope.type, "timestamp": envelope.timestamp,
                                                       "data": envelope.data})
        return payload.to_canonical(event.data, source, raw_ref)
    except ValidationError as exc:
        raise invalid(exc) from None
