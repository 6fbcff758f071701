"""Readiness tells the truth (issue 20): ``/readyz`` turns 503 within 5 s of losing the broker or
the database and 200 again once both answer. Real parts: the embedded broker stopped and started
again on its port, PostgreSQL behind a TCP relay that is cut and restored, a closed port."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from services.ingestor.app import create_app
from shared import db
from shared.probes import Probes
from shared.service import ops_router
from shared.supervisor import Supervisor
from tests.conftest import PG_URL, _pg_reachable
from tests.ingestor_support.webhooks import running
from tests.integration.test_ingestor_webhooks import settings
from tools.devbroker import EmbeddedBroker, ensure_topics, free_port

LOSS_S = 5.0  # the promise: 503 within this many seconds of the loss
RECOVERY_S = 20.0  # generous: the broker's own start-up and the ledger's watch come first


async def readyz_until(client: httpx.AsyncClient, status: int, within_s: float) -> dict:
    """Poll ``/readyz`` until it answers ``status``; its body. Fails after ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        answer = await client.get("/readyz")
        if answer.status_code == status:
            return answer.json()
        if time.monotonic() > deadline:
            pytest.fail(f"/readyz still {answer.status_code} {answer.json()} after {within_s}s")
        await asyncio.sleep(0.05)


class Relay:
    """A TCP relay on a fixed local port to ``target``; ``cut`` closes it and every connection
    through it (the database is gone as far as the client can tell), ``start`` restores it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def test_ingestor_readyz_follows_the_broker_away_and_back(sqlite_url, namespace):
    broker = EmbeddedBroker().start()
    await ensure_topics(broker.bootstrap_servers, namespace)
    app = create_app(settings(broker.bootstrap_servers, namespace, sqlite_url))
    try:
        async with running(app, ready_timeout_s=None) as client:
            ready = await readyz_until(client, 200, RECOVERY_S)
            assert ready == {"status": "ready", "broker": "ok", "database": "ok"}
            await asyncio.to_thread(broker.stop)
            lost = await readyz_until(client, 503, LOSS_S)
            assert lost == {"status": "not ready", "broker": "unreachable", "database": "ok"}
            assert (await client.get("/healthz")).status_code == 200  # liveness stays
            await asyncio.to_thread(broker.start)  # the same port
            await readyz_until(client, 200, RECOVERY_S)
    finally:
        broker.stop()


async def test_ingestor_readyz_follows_the_database_away_and_back(kafka_bootstrap, topics_ready):
    if not _pg_reachable():
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    pg = make_url(PG_URL)
    relay = Relay((pg.host or "127.0.0.1", pg.port or 5432))
    await relay.start()
    url = pg.set(port=relay.port).render_as_string(hide_password=False)
    app = create_app(settings(kafka_bootstrap, topics_ready, url))
    try:
        async with running(app, ready_timeout_s=None) as client:
            await readyz_until(client, 200, RECOVERY_S)
            await relay.cut()
            lost = await readyz_until(client, 503, LOSS_S)
            assert lost == {"status": "not ready", "broker": "ok", "database": "unreachable"}
            await relay.start()
            assert await readyz_until(client, 200, RECOVERY_S) == {
                "status": "ready",
                "broker": "ok",
                "database": "ok",
            }
    finally:
        with contextlib.suppress(AssertionError):
            await relay.cut()


async def test_a_supervised_service_is_not_ready_without_its_broker_or_its_database(tmp_path):
    """The shared wiring the classifier, router and notifier use: ``Supervisor(probes=...)`` and
    ``ops_router(..., probes.report)``; a closed broker port, then a SQLite file that vanished."""
    broker = EmbeddedBroker().start()
    path = tmp_path / "service.db"
    engine = db.engine(f"sqlite:///{path}")
    async with engine.begin() as conn:  # the file exists
        await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    probes = Probes(broker.bootstrap_servers, engine)
    supervisor = Supervisor("svc", probes=probes)
    app = FastAPI()
    app.include_router(ops_router(lambda: supervisor.live, lambda: supervisor.ready, probes.report))
    running_ = asyncio.create_task(supervisor.run())
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            await readyz_until(client, 200, RECOVERY_S)
            path.unlink()
            lost = await readyz_until(client, 503, LOSS_S)
            assert lost == {"status": "not ready", "broker": "ok", "database": "unreachable"}
            sqlite3.connect(path).close()  # the file is back: the database answers again
            await readyz_until(client, 200, RECOVERY_S)
            await asyncio.to_thread(broker.stop)
            lost = await readyz_until(client, 503, LOSS_S)
            assert lost == {"status": "not ready", "broker": "unreachable", "database": "ok"}
            assert (await client.get("/healthz")).status_code == 200
    finally:
        supervisor.stop()
        await running_
        broker.stop()
        await engine.dispose()
