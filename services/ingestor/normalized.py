"""The raw body as received (``RawBody``), and what a platform parser makes of it: canonical
messages with their dedup keys, plus the kinds of entries it skipped on purpose (statuses, read
receipts, our own echoes: a metric only) and the kinds it does not handle (a metric and a
dead-letter record). Messages whose text and author the notification does not carry (Instagram
mentions) are ``deferred``: held and published once they were fetched (``mentions``). Parsers
are pure functions ``parse(document, context) -> Parsed``; they raise ``PayloadInvalid`` only
when the document is not the platform's format at all.

**Per-item isolation.** A parser reads each item of a batch (an entry, a change, a messaging
event, a WhatsApp message, an X event, a polled thread) inside ``Parsed.guard``: an item that is
malformed is kept as ``Invalid`` (its path, the reason and its own JSON) and the other items go
on; what the item had added before it failed is taken back. The acceptor dead-letters each
invalid item once (ledger key ``<source>:invalid:<sha256 of the item>``), so a re-sent delivery
or a re-read poll page does not dead-letter it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError

from services.ingestor.shapes import PayloadInvalid
from shared.events import CanonicalMessage, MessageAction


@dataclass(frozen=True)
class RawBody:
    """The request body as received; ``ref`` is what events carry as ``raw_ref``."""

    body: bytes
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def ref(self) -> str:
        return f"raw_payloads/{self.sha256}"


@dataclass(frozen=True)
class Context:
    """Per request: the configured source name and where the raw body is kept."""

    source: str
    raw_ref: str


@dataclass(frozen=True)
class Item:
    message: CanonicalMessage
    dedup_key: str


@dataclass(frozen=True)
class Invalid:
    """One malformed item of a delivery: where it was, why it was refused, and its own JSON."""

    path: str
    error: str
    item: bytes

    def dedup_key(self, source: str) -> str:
        return f"{source}:invalid:{hashlib.sha256(self.item).hexdigest()[:40]}"


@dataclass
class Parsed:
    items: list[Item] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    deferred: list[Item] = field(default_factory=list)  # published after a fetch of their content
    invalid: list[Invalid] = field(
        default_factory=list
    )  # malformed items (dead-lettered once each)

    def guard(self, path: str, item: object, read: Callable[[], object]) -> None:
        """Run ``read`` (which parses ``item`` into this batch); if the item is malformed
        (``PayloadInvalid``, or a value out of the canonical limits), take back what it added and
        keep it as ``Invalid`` instead, so the other items of the delivery still go through."""
        marks = (
            len(self.items),
            len(self.skipped),
            len(self.unhandled),
            len(self.deferred),
            len(self.invalid),
        )
        try:
            read()
        except (PayloadInvalid, ValidationError) as exc:
            del self.items[marks[0] :], self.skipped[marks[1] :], self.unhandled[marks[2] :]
            del self.deferred[marks[3] :], self.invalid[marks[4] :]
            self.invalid.append(Invalid(path, _reason(exc), item_json(item)))

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


def item_json(item: object) -> bytes:
    """The item as canonical JSON bytes (sorted keys: the same item, the same bytes)."""
    try:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return repr(item).encode("utf-8", "replace")


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"[:500]
    return str(exc)[:500]
