"""Readiness probes: is the broker reachable, does the database answer?

``Probes`` checks both every ``interval_s`` (each within ``timeout_s``) and keeps the outcome, so
``/readyz`` answers from memory and turns 503 within ``interval_s + timeout_s`` (3 s by default)
of losing either, and 200 again after the first round in which both answer. A paused broker or
database (accepts the connection, never replies) counts as unreachable once the timeout passes.

* Broker: a Kafka ``Metadata`` request over one kept connection to a bootstrap server (reopened
  after a failure), the cheapest request every broker answers.
* Database: ``SELECT 1`` through the service's own engine (so its pool and driver are what is
  tested); for a SQLite file, the file must still exist as well.

Liveness never looks at these: an outage must not get pods killed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka.conn import collect_hosts, create_conn
from aiokafka.protocol.metadata import MetadataRequest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.logging import get_logger

log = get_logger(__name__)

OK, UNREACHABLE, UNKNOWN = "ok", "unreachable", "unknown"


class Probes:
    """Broker and database reachability of one service, probed in the background by ``run``.
    ``engine`` may be set after construction (before ``run``); without one, only the broker
    is probed."""

    def __init__(
        self,
        bootstrap_servers: str,
        engine: AsyncEngine | None = None,
        *,
        interval_s: float = 1.0,
        timeout_s: float = 2.0,
    ) -> None:
        self.bootstrap_servers, self.engine = bootstrap_servers, engine
        self.interval_s, self.timeout_s = interval_s, timeout_s
        self.broker = UNKNOWN
        self.database = UNKNOWN
        self._conn = None

    @property
    def ok(self) -> bool:
        return self.broker == OK and (self.engine is None or self.database == OK)

    def report(self) -> dict[str, str]:
        """What ``/readyz`` shows beside its status: ``{"broker": ..., "database": ...}``."""
        found = {"broker": self.broker}
        if self.engine is not None:
            found["database"] = self.database
        return found

    async def check(self) -> None:
        """One round: both probes at once, each bounded by ``timeout_s``."""
        broker, database = await asyncio.gather(
            self._bounded(self._broker(), "broker"), self._bounded(self._database(), "database")
        )
        self._set("broker", broker)
        self._set("database", database)

    async def run(self, _stopping: asyncio.Event | None = None) -> None:
        """Probe every ``interval_s`` until cancelled (a supervisor ``Task`` with ``cancel``)."""
        try:
            while True:
                await self.check()
                await asyncio.sleep(self.interval_s)
        finally:
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _set(self, name: str, state: str) -> None:
        if state == OK and getattr(self, name) != OK:
            log.info("readiness.ok", dependency=name)
        setattr(self, name, state)

    async def _bounded(self, probe, name: str) -> str:
        try:
            await asyncio.wait_for(probe, self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable now"
            if name == "broker":
                self.close()  # a half-answered connection is not reused
            if getattr(self, name) == OK:
                log.warning("readiness.lost", dependency=name, error=f"{type(exc).__name__}: {exc}")
            return UNREACHABLE
        return OK

    async def _broker(self) -> None:
        conn = self._conn
        if conn is None or not conn.connected():
            self.close()
            conn = self._conn = await self._connect()
        await conn.send(MetadataRequest([]))

    async def _connect(self):
        failure: Exception = ConnectionError(f"no bootstrap server in {self.bootstrap_servers!r}")
        for host, port, _family in collect_hosts(self.bootstrap_servers):
            try:
                return await create_conn(
                    host,
                    port,
                    client_id="readiness",
                    request_timeout_ms=int(self.timeout_s * 1000),
                )
            except Exception as exc:  # noqa: BLE001 - try the next bootstrap server
                failure = exc
        raise failure

    async def _database(self) -> None:
        if self.engine is None:
            return
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            if not Path(url.database).exists():
                raise FileNotFoundError(url.database)
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
