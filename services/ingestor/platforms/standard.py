"""Standard Webhooks (https://www.standardwebhooks.com/), one adapter per configured source.

Verified with any active secret of the source (several during a rotation, ``standard_signing``);
the ``webhook-id`` is the correlation id and must be printable, at most 128 characters (400). The
body is one event (``standard_payload``): a ``message.created`` is accepted with 202, a known
one with 200 ``duplicate``, any other type 202 ``ignored`` (and dead-lettered for the record).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from services.ingestor.errors import Rejected, invalid
from services.ingestor.intake import JSON_TYPES, Reply, read_json, refuse
from services.ingestor.normalized import Parsed, RawBody, edit_marker
from services.ingestor.platforms import standard_payload as payload
from services.ingestor.platforms.standard_signing import verify
from shared.logging import get_logger

if TYPE_CHECKING:
    from services.ingestor.acceptor import Acceptor

log = get_logger(__name__)
_WEBHOOK_ID = 128  # the envelope's correlation_id limit


class StandardWebhooks:
    """The ``PlatformAdapter`` of one Standard Webhooks source."""

    media_types = JSON_TYPES
    refused = staticmethod(refuse)

    def __init__(
        self,
        source: str,
        keys: Sequence[bytes],
        *,
        tolerance_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source, self._keys, self._tolerance_s, self._clock = source, keys, tolerance_s, clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        webhook = verify(
            self._keys, headers, body, tolerance_s=self._tolerance_s, now=self._clock()
        )
        if len(webhook.webhook_id) > _WEBHOOK_ID or not webhook.webhook_id.isprintable():
            detail = f"webhook-id must be printable, at most {_WEBHOOK_ID} characters"
            raise Rejected(400, "invalid_webhook_id", detail, "malformed")
        return webhook.webhook_id

    def read(self, body: bytes, raw: RawBody, delivery_id: str) -> tuple[Parsed, str]:
        """The event as ``Parsed`` (an unhandled type, or one message), and the webhook-id."""
        envelope = _envelope(body)
        parsed = Parsed()
        if envelope.type != payload.MESSAGE_CREATED:
            parsed.unhandled.append(envelope.type)
        else:
            message = _message(envelope, self.source, raw.ref)
            parsed.add(message, edit_marker(message.text))
        return parsed, delivery_id

    async def accept(self, reading: tuple[Parsed, str], raw: RawBody, acceptor: Acceptor) -> Reply:
        parsed, webhook_id = reading
        result = await acceptor.accept(self.source, parsed, raw, webhook_id)
        source = self.source
        if result.unhandled:
            kind = result.unhandled[0]
            log.info("webhook.ignored", source=source, event_type=kind[:64], webhook_id=webhook_id)
            return Reply(
                202,
                {"status": "ignored", "reason": "unhandled_event_type", "type": kind},
                "ignored",
            )
        if result.duplicates:
            log.info(
                "webhook.duplicate",
                source=source,
                event_id=result.duplicates[0],
                webhook_id=webhook_id,
            )
            return Reply(
                200, {"status": "duplicate", "event_id": result.duplicates[0]}, "duplicate", 1
            )
        log.info(
            "webhook.accepted", source=source, event_id=result.accepted[0], webhook_id=webhook_id
        )
        return Reply(202, {"status": "accepted", "event_id": result.accepted[0]}, "accepted", 1)


def _envelope(body: bytes) -> payload.WebhookEnvelope:
    document = read_json(body)
    try:
        return payload.WebhookEnvelope.model_validate(document)
    except ValidationError as exc:
        raise invalid(exc) from None


def _message(envelope: payload.WebhookEnvelope, source: str, raw_ref: str):
    try:
        event = payload.MessageCreated.model_validate(
            {"type": envelope.type, "timestamp": envelope.timestamp, "data": envelope.data}
        )
        return payload.to_canonical(event.data, source, raw_ref)
    except ValidationError as exc:
        raise invalid(exc) from None
