"""Following deliveries to the end, and counting.

**The end** is the router's table of classified messages (``router_message_facts``: one row per
message whatever the decision: dropped as spam, tagged as noise or queued for a reply), so every
delivery has the same countable final state, whatever the classifier made of it. A delivery
answered 2xx that never gets there is **lost**. A message the router placed in a queue more than
once (more than one ``routed`` audit entry or first assignment) is **doubled**: an agent would
see it twice. Re-deliveries of the same event id along the way are by design (at-least-once,
idempotent consumers) and are not doubles.

``EndWatcher`` polls the router's database every half second (riding out the database's own
outage) and keeps when each message was first seen there; ``Readiness`` samples every service's
``/readyz`` so that a trial can say whether readiness was honest during an outage.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress

import httpx
from sqlalchemy import create_engine, pool, text

from shared.db import sync_url

FACTS = "SELECT message_key FROM router_message_facts WHERE message_key LIKE :pattern"
DOUBLED = (
    "SELECT message_key FROM router_audit WHERE action = 'routed' AND message_key LIKE :pattern "
    "GROUP BY message_key HAVING COUNT(*) > 1 "
    "UNION SELECT message_key FROM router_assignments WHERE cause = 'routed' "
    "AND message_key LIKE :pattern GROUP BY message_key HAVING COUNT(*) > 1"
)


def message_id(message_key: str) -> str:
    """``platform:account:message id`` → the message id (ours have no colon)."""
    return message_key.rsplit(":", 1)[-1]


class EndWatcher:
    """The run's messages (``chaos-<run>-*``) in the router's table, with when each appeared."""

    def __init__(self, router_database_url: str, run: str, started: float) -> None:
        self._engine = create_engine(
            sync_url(router_database_url),
            poolclass=pool.NullPool,
            connect_args=_connect_timeout(router_database_url),
        )
        self._pattern = f"%:chaos-{run}-%"
        self._started = started
        self.seen: dict[str, float] = {}  # message id -> seconds since the trial's start
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            with suppress(Exception):  # the database may be the fault: try again
                keys = await asyncio.to_thread(self._query, FACTS)
                now = time.monotonic() - self._started
                for key in keys:
                    self.seen.setdefault(message_id(key), now)
            await asyncio.sleep(0.5)

    def _query(self, sql: str) -> list[str]:
        with self._engine.connect() as conn:
            return [row[0] for row in conn.execute(text(sql), {"pattern": self._pattern})]

    async def doubled(self) -> set[str]:
        """Message ids placed in a queue more than once."""
        return {message_id(key) for key in await asyncio.to_thread(self._query, DOUBLED)}

    async def wait_for(
        self, wanted: set[str], quiet_s: float, limit_s: float, settled: Callable[[], bool]
    ) -> None:
        """Until every ``wanted`` id is seen, or nothing new came for ``quiet_s`` while the
        stack was ``settled`` (every service ready: a restart still under way is no reason to
        stop waiting), or ``limit_s`` passed."""
        deadline = time.monotonic() + limit_s
        last, since = len(self.seen), time.monotonic()
        while not wanted <= self.seen.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            if len(self.seen) != last or not settled():
                last, since = len(self.seen), time.monotonic()
            elif time.monotonic() - since > quiet_s:
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._engine.dispose()


def _connect_timeout(url: str) -> dict:
    return {"connect_timeout": 2} if url.startswith("postgresql") else {}


class Readiness:
    """Samples each service's ``/readyz`` twice a second: (seconds since start, service, ready)."""

    def __init__(self, urls: dict[str, str], started: float) -> None:
        self._urls, self._started = urls, started
        self.samples: list[tuple[float, str, bool]] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                for name, url in self._urls.items():
                    ready = False
                    with suppress(httpx.HTTPError):
                        ready = (await client.get(url)).status_code == 200
                    self.samples.append((time.monotonic() - self._started, name, ready))
                await asyncio.sleep(0.5)

    def all_ready(self) -> bool:
        """The last sample of every service said "ready"."""
        last = {name: ready for _, name, ready in self.samples[-len(self._urls) :]}
        return len(last) == len(self._urls) and all(last.values())

    def ready_during(self, start: float, end: float) -> Counter:
        """Per service, the samples that answered "ready" between ``start`` and ``end``."""
        return Counter(name for at, name, ready in self.samples if ready and start <= at <= end)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
