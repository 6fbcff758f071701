"""The poll scheduler: one task per configured source, each round under the source's lease in
the database (one replica polls a source at a time).

Everything a poller raises is handled here: a ``PollFailed``/``Rejected``/``LedgerUnavailable``
keeps the cursor where it was and backs the source off (exponential, jittered); ``Paused``
(YouTube quota) parks it until a given time; ``LeaseLost`` abandons the round.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client import Counter
from sqlalchemy import update

from services.ingestor.acceptor import Acceptor
from services.ingestor.errors import Rejected
from services.ingestor.ledger import Ledger, LedgerUnavailable, aware
from services.ingestor.pollers.context import Paused, PollContext, Poller
from services.ingestor.pollers.fetch import Clock, Http, PollFailed, Sleep
from services.ingestor.pollers.store import CursorStore, LeaseLost
from services.ingestor.settings import IngestorSettings, PollSource
from services.ingestor.tables import PollerLease
from shared.logging import get_logger

log = get_logger(__name__)
POLL_ROUNDS = Counter(
    "switchboard_ingestor_poll_rounds_total",
    "Poll rounds by source and outcome (ok, failed, paused, busy: another replica holds the lease)",
    ["source", "outcome"],
)


def owner_id() -> str:
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    """Runs every configured poller: one task per source, each round under the source's lease."""

    def __init__(
        self,
        settings: IngestorSettings,
        ledger: Ledger,
        acceptor: Acceptor,
        pollers: dict[str, Poller],
        client: httpx.AsyncClient | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        sleep: Sleep = asyncio.sleep,
        rand: random.Random | None = None,
        owner: str | None = None,
        on_accepted: Callable[[str, int], None] = lambda source, n: None,
        on_error: Callable[[str, str], None] = lambda source, outcome: None,
        configs: dict[str, PollSource] | None = None,
    ) -> None:
        self.settings, self.ledger, self.acceptor, self.pollers = (
            settings,
            ledger,
            acceptor,
            pollers,
        )
        self.configs = settings.poll_sources if configs is None else configs
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(20.0),
            follow_redirects=True,
            headers={"user-agent": "switchboard-ingestor/1"},
        )
        self._own_client = client is None
        logging.getLogger("httpx").setLevel(
            logging.WARNING
        )  # its INFO lines carry full URLs (feed tokens)
        self.clock, self.sleep, self.rand = clock, sleep, rand or random.Random()
        self.store = CursorStore(ledger, owner or owner_id(), settings.poll_lease_s)
        self.on_accepted, self.on_error = on_accepted, on_error
        self._tasks: list[asyncio.Task] = []
        self._woken = {name: asyncio.Event() for name in pollers}

    def wake(self, name: str) -> None:
        """Run a round of ``name`` now instead of at the next tick (new work arrived)."""
        self._woken[name].set()

    async def run_round(self, name: str) -> str:
        """One round of source ``name``: ``busy`` (another replica's lease), ``waiting`` (backing
        off or paused), ``ok``, ``failed`` or ``paused``."""
        now = self.clock()
        try:
            if not await self.store.claim(name, now):
                POLL_ROUNDS.labels(name, "busy").inc()
                return "busy"
            lease = await self.store.lease(name)
        except LedgerUnavailable:
            return "failed"
        if (
            lease is not None
            and aware(lease.paused_until) is not None
            and aware(lease.paused_until) > now
        ):
            return "waiting"
        config = self.configs[name]

        async def renew() -> None:
            if not await self.store.claim(name, self.clock()):
                raise LeaseLost(name)

        http = Http(
            self.client, name, self.settings, self.clock, self.sleep, self.rand, before=renew
        )
        ctx = PollContext(
            name,
            config,
            self.settings,
            http,
            self.store,
            self.clock,
            self.acceptor,
            self.on_accepted,
            self.on_error,
        )
        outcome, error, paused_until = "ok", None, None
        try:
            await self.pollers[name].round(ctx)
        except Paused as exc:
            outcome, paused_until = "paused", exc.until
            log.info("poll.paused", source=name, reason=str(exc), until=exc.until.isoformat())
        except LeaseLost:
            POLL_ROUNDS.labels(name, "lost_lease").inc()
            return "busy"
        except (PollFailed, Rejected, LedgerUnavailable) as exc:
            outcome, error = "failed", str(exc)[:512]
            delay = getattr(exc, "delay_s", None)
            try:
                errors = await self.store.finish(name, self.clock(), error=error)
            except LedgerUnavailable:
                errors = 1
            backoff = max(
                delay or 0.0,
                Http(self.client, name, self.settings, self.clock, self.sleep, self.rand).backoff_s(
                    min(errors, 30)
                ),
            )
            paused_until = self.clock() + timedelta(seconds=backoff)
            log.warning("poll.failed", source=name, error=error, retry_in_s=round(backoff, 3))
            self.on_error(name, "poll_error")
        try:
            if outcome == "failed":
                await self._pause(name, paused_until)
            else:
                await self.store.finish(name, self.clock(), paused_until=paused_until)
        except LedgerUnavailable:
            outcome = "failed"
        POLL_ROUNDS.labels(name, outcome).inc()
        return outcome

    async def _pause(self, name: str, until: datetime) -> None:
        table = PollerLease.__table__
        async with self.ledger.connection(write=True) as conn:
            await conn.execute(
                update(table).where(table.c.source == name).values(paused_until=until)
            )

    async def run_source(self, name: str, tick_s: float = 1.0) -> None:
        """Poll ``name`` until cancelled: a round whenever something is due, checked every ``tick_s``
        (at once after a ``wake``)."""
        woken = self._woken[name]
        while True:
            woken.clear()
            try:
                await self.run_round(name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug in one poller must not stop the others
                log.error("poll.crashed", source=name, error=type(exc).__name__, exc_info=exc)
            await self._rest(woken, max(tick_s, min(self.configs[name].interval_s / 4, 15.0)))

    async def _rest(self, woken: asyncio.Event, seconds: float) -> None:
        """``sleep(seconds)``, cut short by a ``wake``."""
        nap, alarm = asyncio.ensure_future(self.sleep(seconds)), asyncio.ensure_future(woken.wait())
        try:
            await asyncio.wait((nap, alarm), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (nap, alarm):
                task.cancel()
            await asyncio.gather(nap, alarm, return_exceptions=True)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.run_source(name), name=f"poller-{name}")
            for name in self.pollers
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for name in self.pollers:
            try:
                await self.store.release(name)
            except LedgerUnavailable:
                pass
        if self._own_client:
            await self.client.aclose()
