"""The router rides out outages in-process (issue 20), on real parts: a private PostgreSQL server
(``tools.pgcluster``) stopped and started again under a running router, and a private embedded
broker paused (SIGSTOP: it accepts connections and never answers) and resumed. Every classified
item is routed exactly once, ``/readyz`` answers 503 during the outage and 200 after, the router
never exits, and routing resumes by itself; the outbox relay never hangs on a paused broker and
its rows are sent once it answers. The measured seconds are printed (``-s``) for the runbook."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest
from sqlalchemy import select

from services.router.app import build
from services.router.reviews import Reviews
from services.router.tables import RoutedItem
from shared import db, topics
from tests.integration.test_router_dispatch import META, T0, classified, main
from tests.integration.test_router_outbox import settings_for
from tests.kafkautil import collect, decoded, produce
from tools import migrate, pgcluster
from tools.devbroker import EmbeddedBroker, ensure_topics

pytestmark = [pytest.mark.kafka]
LOSS_S = 10.0  # /readyz must say 503 within this (the promise is 5 s; the machine is shared)
RESUME_S = 30.0  # routing must resume within this after the dependency returns (promise: 5 s)


async def readyz_until(client: httpx.AsyncClient, status: int, within_s: float) -> float:
    """Poll ``/readyz`` until it answers ``status``; the seconds it took. Fails after ``within_s``."""
    started = time.monotonic()
    while True:
        answer = await client.get("/readyz")
        if answer.status_code == status:
            return time.monotonic() - started
        if time.monotonic() - started > within_s:
            pytest.fail(f"/readyz still {answer.status_code} {answer.json()} after {within_s}s")
        await asyncio.sleep(0.1)


async def queued(sessions) -> dict[str, str]:
    """Stored items: message key -> publication state."""
    async with sessions() as s:
        rows = (await s.execute(select(RoutedItem.message_key, RoutedItem.state))).all()
    return dict(rows)


async def until_queued(sessions, count: int, within_s: float) -> float:
    """Wait until ``count`` items are stored and published; the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            states = await queued(sessions)
        except Exception:  # noqa: BLE001 - the database may still be coming back
            states = {}
        if sum(state == "queued" for state in states.values()) >= count:
            return time.monotonic() - started
        if time.monotonic() - started > within_s:
            pytest.fail(f"{len(states)} items stored, not {count} queued, after {within_s}s")
        await asyncio.sleep(0.1)


def alive(task: asyncio.Task, runtime) -> None:
    """The router has not exited and no consumer gave up."""
    assert not task.done(), task.exception() if task.done() else None
    assert all(r.state.status == "running" and r.state.error is None for r in runtime.runners)


@pytest.fixture
def private_pg():
    if not pgcluster.available():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with pgcluster.PrivatePostgres() as pg:
        migrate.upgrade(pg.url)
        yield pg


async def test_router_rides_out_a_postgresql_outage_and_routes_every_item_once(
    kafka_bootstrap, topics_ready, private_pg
):
    ns, pg = topics_ready, private_pg
    settings = settings_for(kafka_bootstrap, ns, pg.url)
    app, runtime = build(settings)
    task = asyncio.create_task(runtime.run())
    engine = db.engine(pg.url)
    sessions = db.sessions(engine)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            await readyz_until(client, 200, 60)
            await produce(
                kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), ordered(range(0, 20))
            )
            await until_queued(sessions, 20, 60)

            await asyncio.to_thread(pg.stop)
            lost_s = await readyz_until(client, 503, LOSS_S)
            body = (await client.get("/readyz")).json()
            assert body["database"] == "unreachable" and body["broker"] == "ok"
            await produce(  # classified while the database is away
                kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), ordered(range(20, 40))
            )
            await asyncio.sleep(8)
            alive(task, runtime)
            assert runtime.runner("classified").state.waiting == "database"
            assert (await client.get("/healthz")).status_code == 200  # waiting is not dying
            api = await client.get(  # the API says the database is away, not "server error"
                "/v1/queues",
                headers={"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"},
            )
            assert api.status_code == 503 and api.headers["retry-after"] == "5", api.text
            assert "database is unavailable" in api.json()["detail"]

            await asyncio.to_thread(pg.start)
            back = time.monotonic()
            resumed_s = await until_queued(sessions, 21, RESUME_S)
            await until_queued(sessions, 40, RESUME_S + 30)
            ready_s = await readyz_until(client, 200, RESUME_S) + time.monotonic() - back
            alive(task, runtime)
        print(
            f"\npostgresql outage: /readyz 503 after {lost_s:.1f}s; routing resumed "
            f"{resumed_s:.1f}s after the server was back, /readyz 200 within {ready_s:.1f}s"
        )
        states = await queued(sessions)
        assert len(states) == 40 and set(states.values()) == {"queued"}
        async with sessions() as s:
            ids = set((await s.execute(select(RoutedItem.event_id))).scalars())
        records = await collect(
            kafka_bootstrap, topics.qualified(topics.ROUTED, ns), 40, settle=2.0
        )
        got = [e.id for e in decoded(records)]
        assert sorted(got) == sorted(ids)  # each routed item published exactly once
    finally:
        runtime.stop()
        await asyncio.wait_for(task, timeout=60)
        await engine.dispose()


def ordered(numbers) -> list:
    """Classified messages needing a reply, one conversation each."""
    return [classified(n) for n in numbers]


@pytest.fixture
async def paused_broker(namespace):
    """A private embedded broker with the registry's topics, and ``pause``/``resume`` for it."""
    broker = EmbeddedBroker().start()
    await ensure_topics(broker.bootstrap_servers, namespace)

    def signal_(sig: signal.Signals) -> None:
        assert broker.pid is not None
        os.kill(broker.pid, sig)

    broker.pause = lambda: signal_(signal.SIGSTOP)
    broker.resume = lambda: signal_(signal.SIGCONT)
    try:
        yield broker
    finally:
        if broker.pid is not None:
            os.kill(broker.pid, signal.SIGCONT)
        broker.stop()


async def test_router_and_its_relay_ride_out_a_paused_broker(paused_broker, namespace, sqlite_url):
    broker, ns = paused_broker, namespace
    settings = settings_for(broker.bootstrap_servers, ns, sqlite_url).model_copy(
        update={"kafka_request_timeout_ms": 2000, "pending_grace_s": 3, "republish_interval_s": 1}
    )
    app, runtime = build(settings)
    task = asyncio.create_task(runtime.run())
    transport = httpx.ASGITransport(app=app)
    classified_topic = topics.qualified(topics.CLASSIFIED, ns)
    sessions = runtime.relay._sessions  # noqa: SLF001 - the router's own database
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            await readyz_until(client, 200, 60)
            await produce(broker.bootstrap_servers, classified_topic, ordered(range(0, 10)))
            await until_queued(sessions, 10, 60)

            broker.pause()
            await readyz_until(client, 503, LOSS_S)
            # an item stored as routed whose publication never happens (as if its consumer
            # died): left pending, the republication sweep sends it through the outbox
            item = main(await runtime.runners[0].stage(classified(99), META))[0].event
            # an event committed to the outbox meanwhile: the relay's round gives up in bounded
            # time (it never hangs on the paused broker) and the row stays unsent
            reviews = Reviews(sessions, lambda: runtime.dispatcher.state.config)
            _, released = await reviews.submit(item.id, "anna", "Danke!", T0)
            with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, bounded
                await asyncio.wait_for(runtime.relay.relay(), 60)
            assert await runtime.relay.pending() >= 1
            await asyncio.sleep(10)
            alive(task, runtime)

            broker.resume()
            await produce(broker.bootstrap_servers, classified_topic, ordered(range(10, 20)))
            await until_queued(sessions, 21, RESUME_S + 30)  # 20 consumed + the one left pending
            await readyz_until(client, 200, RESUME_S)
            deadline = time.monotonic() + RESUME_S
            while await runtime.relay.pending() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert await runtime.relay.pending() == 0
            alive(task, runtime)
        [got] = decoded(
            await collect(broker.bootstrap_servers, topics.qualified(topics.RELEASED, ns), 1)
        )
        assert got.id == released.id
        routed = decoded(
            await collect(
                broker.bootstrap_servers, topics.qualified(topics.ROUTED, ns), 21, settle=1.0
            )
        )
        async with sessions() as s:
            ids = set((await s.execute(select(RoutedItem.event_id))).scalars())
        assert len(ids) == 21 and {e.id for e in routed} == ids  # every item, at least once
        [again] = [e for e in routed if e.id == item.id]  # the re-published one, as published
        assert again == item
    finally:
        runtime.stop()
        await asyncio.wait_for(task, timeout=60)
