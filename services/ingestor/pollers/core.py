"""The common poller core: HTTP with 429/``Retry-After`` and backoff, a per-source lease in the
database (one replica polls a source at a time), cursors in the database advanced only after
the broker acknowledged what came before them, and publication through the webhooks' own
``Acceptor`` (dedup ledger, acks, raw body kept), so a poll and a webhook yield the same event.

A platform poller implements ``round(ctx)``: fetch from its cursor, ``ctx.accept`` each page,
``ctx.save`` the cursor after each accepted page. Everything it raises is handled here: a
``PollFailed``/``Rejected``/``LedgerUnavailable`` keeps the cursor where it was and backs the
source off (exponential, jittered); ``Paused`` (YouTube quota) parks it until a given time.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
from prometheus_client import Counter
from sqlalchemy import delete, select, update

from services.ingestor.batch import Acceptor, Acceptance, RawBody
from services.ingestor.errors import Rejected
from services.ingestor.ledger import Ledger, LedgerUnavailable, insert_ignore
from services.ingestor.normalized import Parsed
from services.ingestor.settings import IngestorSettings, PollSource
from services.ingestor.tables import PollerCursor, PollerLease
from shared.logging import get_logger

log = get_logger(__name__)
POLL_REQUESTS = Counter("switchboard_ingestor_poll_requests_total", "Poller HTTP requests by source and outcome",
                        ["source", "outcome"])
POLL_ROUNDS = Counter("switchboard_ingestor_poll_rounds_total", "Poll rounds by source and outcome "
                      "(ok, failed, paused, busy: another replica holds the lease)", ["source", "outcome"])
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


class PollFailed(Exception):
    """A poll could not complete (after retries, or a refusal); the cursor stays. ``delay_s`` is
    the least time before the next try (a ``Retry-After``), if any."""

    def __init__(self, reason: str, delay_s: float | None = None, status: int | None = None, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.delay_s, self.status, self.body, self.headers = delay_s, status, body, headers or {}


def json_answer(response: httpx.Response, what: str, kind: type) -> dict | list:
    """The JSON document of a platform answer, which must be a ``kind`` (dict or list). Raises
    ``PollFailed`` naming ``what`` when it is not JSON or not that shape."""
    try:
        document = json.loads(response.content)
    except ValueError as exc:
        raise PollFailed(f"{what} answer is not JSON: {exc}") from None
    if not isinstance(document, kind):
        raise PollFailed(f"{what} answer is not a JSON {'object' if kind is dict else 'array'}")
    return document


class Paused(Exception):
    """Stop polling the source until ``until`` (e.g. the YouTube quota day ends)."""

    def __init__(self, reason: str, until: datetime) -> None:
        super().__init__(reason)
        self.until = until


class LeaseLost(Exception):
    """Another replica took over the source (our lease expired); abandon the round."""


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP-date; ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), 7 * 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - now).total_seconds(), 7 * 86400))


def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes (stored as UTC): make them aware."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass
class Http:
    """GET with retries: 429 waits ``Retry-After`` (else the backoff), 5xx and transport errors back
    off exponentially with jitter; other 4xx fail at once. ``before`` runs before each attempt
    (lease renewal). Raises ``PollFailed`` when attempts are exhausted."""

    client: httpx.AsyncClient
    source: str
    settings: IngestorSettings
    clock: Clock
    sleep: Sleep
    rand: random.Random
    before: Callable[[], Awaitable[None]] | None = None

    def backoff_s(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: in [d/2, d], d = base * 2**attempt (capped)."""
        delay = min(self.settings.poll_max_backoff_s, self.settings.poll_backoff_s * 2 ** attempt)
        return delay / 2 + self.rand.uniform(0, delay / 2)

    async def get(self, url: str, params=None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.request("GET", url, params=params, headers=headers)

    async def request(self, method: str, url: str, params=None, headers: dict[str, str] | None = None,
                      data: dict | None = None) -> httpx.Response:
        last = "no attempt"
        for attempt in range(self.settings.poll_max_attempts):
            if self.before is not None:
                await self.before()
            try:
                response = await self.client.request(method, url, params=params, headers=headers, data=data)
            except httpx.HTTPError as exc:
                outcome, delay, last = "transport_error", self.backoff_s(attempt), f"{type(exc).__name__}: {exc}"[:300]
            else:
                status = response.status_code
                if status < 400:
                    POLL_REQUESTS.labels(self.source, "ok" if status != 304 else "not_modified").inc()
                    return response
                last = f"HTTP {status} from {response.request.url.host}"
                if status == 429:
                    outcome = "rate_limited"
                    delay = retry_after_s(response.headers.get("retry-after"), self.clock()) or self.backoff_s(attempt)
                elif status >= 500:
                    outcome = "server_error"
                    delay = max(self.backoff_s(attempt),
                                retry_after_s(response.headers.get("retry-after"), self.clock()) or 0.0)
                else:
                    POLL_REQUESTS.labels(self.source, "refused").inc()
                    raise PollFailed(f"{last}: {response.text[:200]}", status=status, body=response.content[:4096],
                                     headers={k.lower(): v[:4096] for k, v in response.headers.items()})
            POLL_REQUESTS.labels(self.source, outcome).inc()
            if attempt + 1 == self.settings.poll_max_attempts:
                raise PollFailed(f"{last} after {attempt + 1} attempts", delay)
            log.info("poll.retry", source=self.source, reason=last, retry_in_s=round(delay, 3), attempt=attempt + 1)
            await self.sleep(delay)
        raise PollFailed(last)


class CursorStore:
    """Leases and cursors in the ingestor's database (SQLite and PostgreSQL alike)."""

    def __init__(self, ledger: Ledger, owner: str, lease_s: float) -> None:
        self.ledger, self.owner, self.lease_s = ledger, owner, lease_s

    async def claim(self, source: str, now: datetime) -> bool:
        """Take or renew the lease of ``source`` unless another owner's lease is still running.
        One UPDATE with the condition in its WHERE: atomic on both backends."""
        table = PollerLease.__table__
        async with self.ledger.connection(write=True) as conn:
            await insert_ignore(conn, PollerLease, [{"source": source, "owner": None, "lease_until": None,
                                                    "consecutive_errors": 0, "errors_total": 0}])
            claimed = await conn.execute(
                update(table).where(table.c.source == source,
                                    (table.c.owner.is_(None)) | (table.c.owner == self.owner) | (table.c.lease_until < now))
                .values(owner=self.owner, lease_until=now + timedelta(seconds=self.lease_s)).returning(table.c.source))
            return claimed.first() is not None

    async def release(self, source: str) -> None:
        table = PollerLease.__table__
        async with self.ledger.connection(write=True) as conn:
            await conn.execute(update(table).where(table.c.source == source, table.c.owner == self.owner)
                               .values(owner=None, lease_until=None))

    async def lease(self, source: str) -> PollerLease | None:
        async with self.ledger.session() as session:
            return await session.get(PollerLease, source)

    async def finish(self, source: str, now: datetime, error: str | None = None,
                     paused_until: datetime | None = None) -> int:
        """Record a round's outcome; the consecutive error count after it."""
        async with self.ledger.session(write=True) as session:
            row = await session.get(PollerLease, source)
            if row is None:
                return 0
            row.paused_until = paused_until
            if error is None:
                row.consecutive_errors, row.last_success_at = 0, now
            else:
                row.consecutive_errors += 1
                row.errors_total += 1
                row.last_error, row.last_error_at = error[:512], now
            return row.consecutive_errors

    async def cursor(self, source: str, target: str) -> PollerCursor | None:
        async with self.ledger.session() as session:
            return await session.get(PollerCursor, (source, target))

    async def cursors(self, source: str) -> dict[str, PollerCursor]:
        async with self.ledger.session() as session:
            rows = await session.scalars(select(PollerCursor).where(PollerCursor.source == source))
            return {row.target: row for row in rows}

    async def save(self, source: str, target: str, position: dict, now: datetime,
                   next_poll_at: datetime | None = None, polled: bool = False) -> None:
        """Store the cursor, only while this replica holds the source's lease. Raises ``LeaseLost``."""
        encoded = json.dumps(position, sort_keys=True)
        async with self.ledger.session(write=True) as session:
            lease = await session.get(PollerLease, source, with_for_update=True)
            if lease is None or lease.owner != self.owner:
                raise LeaseLost(source)
            values = {"position": encoded, "updated_at": now}
            if next_poll_at is not None:
                values["next_poll_at"] = next_poll_at
            if polled:
                values["last_polled_at"] = now
            if not await insert_ignore(session, PollerCursor, [{"source": source, "target": target,
                                                                "next_poll_at": None, "last_polled_at": None, **values}]):
                await session.execute(update(PollerCursor).where(PollerCursor.source == source,
                                                                 PollerCursor.target == target).values(**values))

    async def drop(self, source: str, target: str) -> None:
        """Delete a target's row (a held mention once published), only while this replica holds the
        source's lease. Raises ``LeaseLost``."""
        async with self.ledger.session(write=True) as session:
            lease = await session.get(PollerLease, source, with_for_update=True)
            if lease is None or lease.owner != self.owner:
                raise LeaseLost(source)
            await session.execute(delete(PollerCursor).where(PollerCursor.source == source, PollerCursor.target == target))


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

    async def save(self, position: dict, target: str = "", next_poll_at: datetime | None = None,
                   polled: bool = False) -> None:
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
        raw = RawBody(response.content, response.headers.get("content-type", "application/octet-stream")[:128])
        result = await self.acceptor.accept(self.name, parsed, raw, f"poll:{self.name}:{raw.sha256[:32]}")
        if result.accepted:  # only new messages: a poll overlap is not a sign of life of the source
            self.on_accepted(self.name, len(result.accepted))
        return result


class Poller(Protocol):
    platform: str

    async def round(self, ctx: PollContext) -> None: ...


def owner_id() -> str:
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    """Runs every configured poller: one task per source, each round under the source's lease."""

    def __init__(self, settings: IngestorSettings, ledger: Ledger, acceptor: Acceptor,
                 pollers: dict[str, Poller], client: httpx.AsyncClient | None = None,
                 clock: Clock = lambda: datetime.now(UTC), sleep: Sleep = asyncio.sleep,
                 rand: random.Random | None = None, owner: str | None = None,
                 on_accepted: Callable[[str, int], None] = lambda source, n: None,
                 on_error: Callable[[str, str], None] = lambda source, outcome: None,
                 configs: dict[str, PollSource] | None = None) -> None:
        self.settings, self.ledger, self.acceptor, self.pollers = settings, ledger, acceptor, pollers
        self.configs = settings.poll_sources if configs is None else configs
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(20.0), follow_redirects=True,
                                                  headers={"user-agent": "switchboard-ingestor/1"})
        self._own_client = client is None
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry full URLs (feed tokens)
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
        if lease is not None and aware(lease.paused_until) is not None and aware(lease.paused_until) > now:
            return "waiting"
        config = self.configs[name]

        async def renew() -> None:
            if not await self.store.claim(name, self.clock()):
                raise LeaseLost(name)

        http = Http(self.client, name, self.settings, self.clock, self.sleep, self.rand, before=renew)
        ctx = PollContext(name, config, self.settings, http, self.store, self.clock, self.acceptor, self.on_accepted,
                          self.on_error)
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
            backoff = max(delay or 0.0, Http(self.client, name, self.settings, self.clock, self.sleep,
                                             self.rand).backoff_s(min(errors, 30)))
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
            await conn.execute(update(table).where(table.c.source == name).values(paused_until=until))

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
        self._tasks = [asyncio.create_task(self.run_source(name), name=f"poller-{name}") for name in self.pollers]

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


def is_due(row: PollerCursor | None, now: datetime) -> bool:
    """A target with no cursor yet, or whose ``next_poll_at`` has come."""
    return row is None or row.next_poll_at is None or aware(row.next_poll_at) <= now

