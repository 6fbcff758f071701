"""What a platform poller is and what it gets for one round of one source.

A platform poller implements ``round(ctx)``: fetch from its cursor, ``ctx.accept`` each page,
``ctx.save`` the cursor after each accepted page. Publication goes through the webhooks' own
``Acceptor`` (dedup ledger, acks, raw body kept), so a poll and a webhook yield the same event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import httpx

from services.ingestor.acceptor import Acceptance
from services.ingestor.normalized import Parsed, RawBody
from services.ingestor.pollers.fetch import Clock, Http
from services.ingestor.pollers.store import CursorStore
from services.ingestor.settings import IngestorSettings, PollSource

if TYPE_CHECKING:
    from services.ingestor.acceptor import Acceptor


class Paused(Exception):
    """Stop polling the source until ``until`` (e.g. the YouTube quota day ends)."""

    def __init__(self, reason: str, until: datetime) -> None:
        super().__init__(reason)
        self.until = until


@dataclass
class PollContext:
    """What a platform poller gets for one round of one source."""

    name: str
    config: PollSource
    settings: IngestorSettings
    http: Http
    store: CursorStore
    clock: Clock
    acceptor: Acceptor
    on_accepted: Callable[[str, int], None] = lambda source, n: None
    on_error: Callable[[str, str], None] = lambda source, outcome: None

    def now(self) -> datetime:
        return self.clock()

    async def position(self, target: str = "") -> dict:
        row = await self.store.cursor(self.name, target)
        return json.loads(row.position) if row is not None else {}

    async def save(
        self,
        position: dict,
        target: str = "",
        next_poll_at: datetime | None = None,
        polled: bool = False,
    ) -> None:
        await self.store.save(self.name, target, position, self.clock(), next_poll_at, polled)

    @staticmethod
    def raw_ref(response: httpx.Response) -> str:
        """What the events of ``response`` carry as ``raw_ref`` (its body is stored by ``accept``)."""
        return RawBody(response.content, "").ref

    async def accept(self, parsed: Parsed, response: httpx.Response) -> Acceptance:
        """Publish ``parsed`` (from ``response``, whose body is kept as the raw payload) and wait for
        every ack. Raises ``Rejected`` (503) when the broker or the ledger did not take it all."""
        if not parsed.items and not parsed.unhandled and not parsed.invalid:
            return Acceptance(skipped=len(parsed.skipped))
        raw = RawBody(
            response.content, response.headers.get("content-type", "application/octet-stream")[:128]
        )
        result = await self.acceptor.accept(
            self.name, parsed, raw, f"poll:{self.name}:{raw.sha256[:32]}"
        )
        if result.accepted:  # only new messages: a poll overlap is not a sign of life of the source
            self.on_accepted(self.name, len(result.accepted))
        return result


class Poller(Protocol):
    platform: str

    async def round(self, ctx: PollContext) -> None: ...
