"""What Meta, X and Telegram share: a JSON batch signed over the raw body, read item by item by
the platform's parser (a malformed item is dead-lettered, never costs the others), and answered
200 once the broker acknowledged every message (``batch_reply``). Unhandled event kinds are
answered 200 as well (metric + dead letter): a retry would not help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.ingestor.intake import (
    JSON_TYPES,
    Reply,
    batch_reply,
    read_json,
    read_platform,
    refuse,
)
from services.ingestor.normalized import Context, Parsed, RawBody

if TYPE_CHECKING:
    from services.ingestor.acceptor import Acceptor


class SignedJsonBatch:
    """Base of a ``PlatformAdapter`` for a signed JSON batch; a platform supplies ``verify``,
    ``parse(document, context)`` and ``correlation_id(document, raw)``."""

    source: str
    media_types = JSON_TYPES
    refused = staticmethod(refuse)

    def parse(self, document: object, context: Context) -> Parsed:
        raise NotImplementedError

    def correlation_id(self, document: object, raw: RawBody) -> str:
        """The id the events of this delivery carry (default: the platform and the body's hash)."""
        return f"{self.source}:{raw.sha256[:32]}"

    def read(self, body: bytes, raw: RawBody, delivery_id: str) -> tuple[Parsed, str]:
        document = read_json(body)
        parsed = read_platform(lambda: self.parse(document, Context(self.source, raw.ref)))
        return parsed, self.correlation_id(document, raw)

    async def accept(self, reading: tuple[Parsed, str], raw: RawBody, acceptor: Acceptor) -> Reply:
        parsed, correlation_id = reading
        return batch_reply(await acceptor.accept(self.source, parsed, raw, correlation_id))
