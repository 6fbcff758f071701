"""The one intake path of every webhook platform: verify → read → accept.

A ``PlatformAdapter`` (one per platform, in ``platforms/``) knows how its platform signs a
delivery, how the body reads and how the answer looks; ``Intake.receive`` runs them in the
order every platform shares:

1. ``verify`` the signature over the raw bytes, before anything is parsed (401 missing or
   stale, 403 wrong; a platform may answer a bad signature itself: WebSub wants a 2xx);
2. ``read`` the body (400 not JSON or XML, 422 not the platform's shape, naming the path);
3. ``accept`` what it carried: the ``Acceptor`` publishes and waits for every ack, records the
   dedup rows only after them (503 when the broker or the database did not take it all), and
   the adapter shapes the answer.

HTTP-free: it answers with a ``Reply`` or raises ``Rejected``. The HTTP edge (``http.edge``)
checks what needs no secret first (404, 415, 413) and turns either into JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import ValidationError

from services.ingestor.errors import (
    SignatureRejected,
    invalid_payload,
    malformed,
    signature_refused,
)
from services.ingestor.normalized import RawBody
from services.ingestor.shapes import MalformedJson, PayloadInvalid, parse_json

if TYPE_CHECKING:
    from services.ingestor.acceptor import Acceptance, Acceptor

T = TypeVar("T")
JSON_TYPES = ("application/json",)  # and any application/*+json


@dataclass(frozen=True)
class Reply:
    """A webhook's answer: status, JSON body, the metric outcome and the messages it carried."""

    status_code: int
    body: dict
    outcome: str
    messages: int = 0


class PlatformAdapter(Protocol):
    """One platform's webhook. ``source`` names it in events, metrics and health."""

    source: str
    media_types: tuple[str, ...]  # accepted Content-Types (415 otherwise)

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Check the signature over the raw ``body``; the delivery's id, or ``""``. Raises
        ``SignatureRejected`` (or ``Rejected`` for a header it cannot use). Never blocks."""

    def refused(self, exc: SignatureRejected) -> Reply:
        """The answer to a refused signature; most platforms raise ``signature_refused(exc)``."""

    def read(self, body: bytes, raw: RawBody, delivery_id: str) -> Any:
        """What the verified body carries. Raises ``Rejected`` (400/422). Pure."""

    async def accept(self, reading: Any, raw: RawBody, acceptor: Acceptor) -> Reply:
        """Deliver ``reading`` (blocks until acknowledged) and shape the answer. Raises
        ``Rejected``."""


class Intake:
    """The use case, wired to the acceptor; one per app."""

    def __init__(self, acceptor: Acceptor) -> None:
        self._acceptor = acceptor

    async def receive(
        self, adapter: PlatformAdapter, headers: Mapping[str, str], body: bytes, content_type: str
    ) -> Reply:
        """Verify, read and accept one webhook delivery. Raises ``Rejected`` (4xx/503)."""
        try:
            delivery_id = adapter.verify(headers, body)
        except SignatureRejected as exc:
            return adapter.refused(exc)
        raw = RawBody(body, content_type)
        return await adapter.accept(adapter.read(body, raw, delivery_id), raw, self._acceptor)


def refuse(exc: SignatureRejected) -> Reply:
    """``PlatformAdapter.refused`` of every platform that answers a bad signature with 401/403."""
    raise signature_refused(exc) from None


def read_json(body: bytes) -> object:
    """The JSON document of a body. Raises ``Rejected`` (400 ``malformed_json``)."""
    try:
        return parse_json(body)
    except MalformedJson as exc:
        raise malformed("malformed_json", str(exc)) from None


def read_platform(parse: Callable[[], T]) -> T:
    """Run a platform reader; its ``PayloadInvalid`` (or a limit it hit) is a 422 naming the path."""
    try:
        return parse()
    except (PayloadInvalid, ValidationError) as exc:
        raise invalid_payload(exc) from None


def batch_reply(result: Acceptance) -> Reply:
    """200 for a batch whose every message the broker acknowledged (or already had). Malformed
    items do not change the status: they are named in ``invalid_items`` (path and reason) and
    were dead-lettered; the platform must not re-send the good ones for them."""
    messages = len(result.accepted) + len(result.duplicates)
    outcome = (
        "accepted"
        if result.accepted
        else "duplicate"
        if result.duplicates
        else "ignored"
        if result.unhandled
        else "invalid_items"
        if result.invalid
        else "skipped"
    )
    body = {
        "status": outcome,
        "accepted": len(result.accepted),
        "duplicates": len(result.duplicates),
        "skipped": result.skipped,
        "unhandled": len(result.unhandled),
        "invalid": len(result.invalid),
        "event_ids": result.accepted,
    }
    if result.invalid:
        body["invalid_items"] = [
            {"path": bad.path, "error": bad.error[:200]} for bad in result.invalid[:20]
        ]
    return Reply(200, body, outcome, messages)
