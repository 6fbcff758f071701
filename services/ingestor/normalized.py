"""What a platform parser returns: canonical messages with their dedup keys, plus the kinds of
entries it skipped on purpose (statuses, read receipts, our own echoes: a metric only) and the
kinds it does not handle (a metric and a dead-letter record). Messages whose text and author the
notification does not carry (Instagram mentions) are ``deferred``: held and published once they
were fetched (``mentions``). Parsers are pure functions ``parse(document, context) -> Parsed``;
they raise ``PayloadInvalid``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pydantic import ValidationError

from services.ingestor.shapes import PayloadInvalid
from shared.events import CanonicalMessage, MessageAction


@dataclass(frozen=True)
class Context:
    """Per request: the configured source name and where the raw body is kept."""

    source: str
    raw_ref: str


@dataclass(frozen=True)
class Item:
    message: CanonicalMessage
    dedup_key: str


@dataclass
class Parsed:
    items: list[Item] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    deferred: list[Item] = field(default_factory=list)  # published after a fetch of their content

    def add(self, message: CanonicalMessage, edit_marker: str = "") -> None:
        self.items.append(Item(message, dedup_key(message, edit_marker)))

    def defer(self, message: CanonicalMessage) -> None:
        self.deferred.append(Item(message, dedup_key(message)))


def dedup_key(message: CanonicalMessage, edit_marker: str = "") -> str:
    """The ledger key: the platform message id, plus the edit (marker) or removal it reports,
    so an edit is not mistaken for a re-sent original and each edit counts once."""
    if message.action is MessageAction.EDITED:
        return f"{message.message_key}#edited:{edit_marker}"
    if message.action is MessageAction.DELETED:
        return f"{message.message_key}#deleted"
    return message.message_key


def canonical(path: str, **fields) -> CanonicalMessage:
    """Build a ``CanonicalMessage``; a field out of its limits is ``PayloadInvalid`` at ``path``."""
    try:
        return CanonicalMessage(**fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(part) for part in first["loc"])
        raise PayloadInvalid(f"{path}: {loc}: {first['msg']}") from None


def edit_marker(body: str) -> str:
    """Distinguishes one edit from another when the platform gives no edit counter."""
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:16]
