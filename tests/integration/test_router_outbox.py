"""The router's transactional outbox, per-queue routed topics and re-tag corrections, on the real
broker and both databases: an event committed with its change survives a "crash" before the
relay ran and is published on restart; a crash after publishing but before the row was marked
sends it again with the same id; re-running a change adds nothing; four-eyes releases, manual
assignments and re-tags reach their topics through it; each routed item also lands on its
queue's own topic."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import select

from services.router import outbox
from services.router.app import build, runtime_of
from services.router.lifecycle import LifecycleStage
from services.router.reviews import Reviews
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import OutboxRow
from shared import db, topics
from shared.auth import Principal
from shared.events import HelpdeskItemUpdated, Lifecycle, LifecycleAction, derived_id
from tests.integration.test_router_dispatch import META, T0, Clock, classified, main
from tests.kafkautil import collect, decoded, produce

pytestmark = [pytest.mark.kafka]
ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}


def settings_for(bootstrap: str, ns: str, url: str) -> RouterSettings:
    return RouterSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=ns,
        database_url=url,
        consumer_group=f"r-{uuid.uuid4().hex[:6]}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
        sweep_interval_s=3600,
    )


@pytest.fixture
async def stack(kafka_bootstrap, topics_ready, database_url):
    """A router runtime (not running: the test drives it) and a way to 'restart' it."""
    engine = db.engine(database_url)
    settings = settings_for(kafka_bootstrap, topics_ready, database_url)
    made = []

    async def start():
        runtime = runtime_of(settings, db.sessions(engine), Clock())
        await runtime.prepare()
        runtime.sessions = db.sessions(engine)
        made.append(runtime)
        return runtime

    yield start, topics_ready
    for runtime in made:
        await runtime.relay.close()
    await engine.dispose()


async def rows(runtime) -> list[OutboxRow]:
    async with runtime.sessions() as s:
        return list((await s.execute(select(OutboxRow).order_by(OutboxRow.seq))).scalars())


def q(ns: str, topic: str) -> str:
    return topics.qualified(topic, ns)


async def test_outbox_survives_a_crash_before_the_relay_and_redelivers_the_same_id(
    stack, kafka_bootstrap
):
    start, ns = stack
    router = await start()
    await router.runners[0].stage(classified(1), META)  # nobody online: waits
    await router.directory.set_status("anna", "online", T0, "test")
    [made] = await router.dispatcher.offer_waiting(T0)  # committed with its outbox row ...
    assert await router.relay.pending() == 1  # ... and the process "dies" before the relay ran
    assert await collect(kafka_bootstrap, q(ns, topics.ASSIGNED), 1, timeout=1.5) == []

    restarted = await start()  # a new process: the relay sends what the crash left
    assert await restarted.relay.drain() == 1 and await restarted.relay.pending() == 0
    [assigned] = decoded(await collect(kafka_bootstrap, q(ns, topics.ASSIGNED), 1))
    assert (assigned.data.agent_id, assigned.data.item_id, assigned.data.cause) == (
        "anna",
        made.item_id,
        "reoffered",
    )
    assert assigned.id == outbox.assigned_event(made, made.item_id).id  # derived, not random

    # crash after the broker acknowledged but before the row was marked sent: sent again, same id
    [row] = await rows(restarted)
    async with restarted.sessions() as s:
        (await s.get(OutboxRow, row.seq)).sent_at = None
        await s.commit()
    assert await restarted.relay.drain() == 1
    twice = decoded(await collect(kafka_bootstrap, q(ns, topics.ASSIGNED), 2, settle=0.5))
    assert [e.id for e in twice] == [
        assigned.id,
        assigned.id,
    ]  # at-least-once; consumers dedupe on ce_id
    [row] = await rows(restarted)
    assert row.sent_at is not None and row.attempts == 2

    async with restarted.sessions() as s:  # re-running the same change adds nothing
        assert await outbox.add(s, topics.ASSIGNED, assigned, T0) is False


async def test_four_eyes_release_and_retag_correction_go_through_the_outbox(stack, kafka_bootstrap):
    start, ns = stack
    router = await start()
    await router.directory.set_status("lena", "online", T0, "test")
    event = classified(1, tags=("reason:legal", "sentiment:negative"))
    item = main(await router.runners[0].stage(event, META))[0].event
    reviews = Reviews(router.sessions, lambda: router.dispatcher.state.config)
    draft, _ = await reviews.submit(item.id, "lena", "Wir prüfen das.", T0)
    assert await rows(router) == []  # waiting for a second pair of eyes: nothing to publish
    _, released = await reviews.decide(draft.id, Principal("anna", "agent", None), True, None, T0)
    assert [r.topic for r in await rows(router)] == [topics.RELEASED]

    retag = HelpdeskItemUpdated(
        id="hd-retag-1",
        source="helpdesk/test",
        time=T0,
        correlation_id="corr-1",
        subject=item.subject,
        data=Lifecycle(
            item_id=item.id,
            action=LifecycleAction.RETAGGED,
            agent_id="lena",
            tags=("reason:billing", "sentiment:negative"),
            at=T0,
        ),
    )
    stage = LifecycleStage(router.sessions, router.dispatcher, relay=router.relay)
    assert await stage(retag, META) == []
    assert await stage(retag, META) == []  # redelivered: nothing new
    assert [r.topic for r in await rows(router)] == [topics.RELEASED, topics.CORRECTIONS]
    assert router.relay.wake.is_set()  # the relay loop is woken
    assert await router.relay.drain() == 2

    [got] = decoded(await collect(kafka_bootstrap, q(ns, topics.RELEASED), 1))
    assert got.id == released.id and got.data.approver == "anna" and got.data.author == "lena"
    [record] = await collect(kafka_bootstrap, q(ns, topics.CORRECTIONS), 1)
    assert record.key == event.data.message.message_key.encode()
    [correction] = decoded([record])
    assert correction.id == derived_id("hd-retag-1", "router:retag-correction")
    c = correction.data
    assert (c.text, c.origin, c.corrected_by, c.item_id) == (
        event.data.message.text,
        "router-retag",
        "lena",
        item.id,
    )
    assert c.tags == ("reason:billing", "sentiment:negative")
    assert (
        c.previous_tags == ("reason:legal", "sentiment:negative")
        and c.previous_decision.value == "reply"
    )
    assert correction.correlation_id == "corr-1"


async def test_manual_assignment_through_the_api_is_published_from_the_outbox(
    stack, kafka_bootstrap
):
    start, ns = stack
    router = await start()
    app, runtime = build(router.settings, clock=Clock())  # the service as deployed: API + runtime
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as http:
        await runtime.prepare()
        item = main(await runtime.runners[0].stage(classified(7), META))[0].event
        url = f"/v1/items/{item.id}/assign"
        lead = await http.post(
            "/v1/admin/tokens",
            json={"subject": "erika", "role": "lead", "team": "care-de"},
            headers=ADMIN,
        )
        lead = {"Authorization": f"Bearer {lead.json()['token']}"}
        agent = await http.post(
            "/v1/admin/tokens", json={"subject": "anna", "role": "agent"}, headers=ADMIN
        )
        agent = {"Authorization": f"Bearer {agent.json()['token']}"}
        assert (
            await http.post(url, json={"agent": "anna"}, headers=agent)
        ).status_code == 403  # agents cannot
        assert (await http.post(url, json={}, headers=lead)).status_code == 422
        assert (
            await http.post("/v1/items/nope/assign", json={"agent": "anna"}, headers=lead)
        ).status_code == 404
        assert (await http.post(url, json={"agent": "ghost"}, headers=lead)).status_code == 404
        assert (
            await http.post(url, json={"agent": "emma"}, headers=lead)
        ).status_code == 403  # other team
        offline = await http.post(url, json={"agent": "anna"}, headers=lead)
        assert offline.status_code == 409 and "offline" in offline.json()["detail"]
        await runtime.directory.set_status("anna", "online", T0, "test")
        await runtime.directory.set_status("jonas", "online", T0, "test")
        answer = await http.post(url, json={"agent": "jonas"}, headers=lead)
        assert answer.status_code == 200 and answer.json() == {
            "item": item.id,
            "agent": "jonas",
            "cause": "manual",
        }
        assert (
            await http.post(url, json={"agent": "jonas"}, headers=lead)
        ).status_code == 409  # already
        moved = await http.post(
            url, json={"agent": "anna"}, headers=lead
        )  # reassigned: jonas is freed
        assert moved.status_code == 200
        agents = {a.id: a.load for a in await runtime.directory.agents()}
        assert (agents["anna"], agents["jonas"]) == (1, 0)
        audit = (await http.get(f"/v1/audit?item_id={item.id}", headers=ADMIN)).json()
        assert [a["actor"] for a in audit if a["action"] == "manual_assignment"] == [
            "erika",
            "erika",
        ]
        kpis = await http.get("/v1/kpis?since=2026-11-23T00:00:00", headers=lead)
        assert kpis.status_code == 422  # no offset
        assert (
            await http.get(
                "/v1/kpis?since=2026-11-24T00:00:00Z&until=2026-11-23T00:00:00Z", headers=lead
            )
        ).status_code == 422
    await runtime.relay.close()
    assigned = decoded(await collect(kafka_bootstrap, q(ns, topics.ASSIGNED), 2, settle=0.5))
    assert [(e.data.agent_id, e.data.cause) for e in assigned] == [
        ("jonas", "manual"),
        ("anna", "manual"),
    ]
    assert await runtime.relay.pending() == 0


async def test_routed_items_also_go_to_their_queues_topic(
    kafka_bootstrap, topics_ready, database_url
):
    ns = topics_ready
    settings = settings_for(kafka_bootstrap, ns, database_url)
    app, runtime = build(settings, clock=Clock())
    task = asyncio.create_task(runtime.run())
    try:
        await produce(
            kafka_bootstrap,
            q(ns, topics.CLASSIFIED),
            [classified(1), classified(2, language="en"), classified(3, tags=("reason:billing",))],
        )
        routed = decoded(await collect(kafka_bootstrap, q(ns, topics.ROUTED), 3))
        by_queue = {e.data.routing.queue: e for e in routed}
        assert set(by_queue) == {"support-de", "support-en", "billing-de"}
        for queue, event in by_queue.items():
            [copy] = await collect(
                kafka_bootstrap, f"{ns}switchboard.items.routed.v1.{queue}", 1, settle=0.5
            )
            assert decoded([copy])[0] == event and copy.key == event.subject.encode()
        assert (
            await collect(
                kafka_bootstrap, f"{ns}switchboard.items.routed.v1.escalations", 1, timeout=1.0
            )
            == []
        )
    finally:
        runtime.stop()
        await asyncio.wait_for(task, timeout=30)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    queues = {q.id for q in runtime.dispatcher.state.config.queues}
    assert {
        f"{ns}switchboard.items.routed.v1.{queue}" for queue in queues
    } <= existing  # made at start-up


async def test_relay_keeps_rows_while_the_broker_is_unreachable(stack, kafka_bootstrap):
    from services.router.outbox import Relay
    from tools.devbroker import free_port

    start, ns = stack
    router = await start()
    item = main(await router.runners[0].stage(classified(3), META))[0].event
    reviews = Reviews(router.sessions, lambda: router.dispatcher.state.config)
    _, released = await reviews.submit(
        item.id, "anna", "Danke!", T0
    )  # no four-eyes: released at once
    assert released is not None and await router.relay.pending() == 1
    dead = Relay(
        router.sessions,
        router.settings.model_copy(
            update={
                "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",
                "kafka_request_timeout_ms": 1000,
            }
        ),
    )
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, the row must stay
        await dead.relay()
    await dead.close()
    [row] = await rows(router)
    assert row.sent_at is None and row.attempts == 1 and row.last_error
    assert await router.relay.drain() == 1  # the broker is back: published
    [got] = decoded(await collect(kafka_bootstrap, q(ns, topics.RELEASED), 1, settle=0.3))
    assert got.id == released.id and got.data.text == "Danke!"


async def test_two_replicas_relays_never_send_the_same_rows(stack, kafka_bootstrap, database_url):
    from sqlalchemy import func

    from services.router.outbox import RELAY_LOCK, Relay

    if not database_url.startswith("postgresql"):
        pytest.skip(
            "the relay lock is PostgreSQL's advisory lock (SQLite is the single-process default)"
        )
    start, ns = stack
    router = await start()
    reviews = Reviews(router.sessions, lambda: router.dispatcher.state.config)
    released = []
    for i in range(6):
        item = main(await router.runners[0].stage(classified(20 + i), META))[0].event
        released.append((await reviews.submit(item.id, "anna", f"Danke {i}", T0))[1])
    assert await router.relay.pending() == 6

    async with router.sessions() as holder:  # another replica is in the middle of a relay round
        assert await holder.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK)))
        assert (
            await router.relay.relay() == 0 and await router.relay.pending() == 6
        )  # it skips the round
        await holder.commit()

    other = Relay(router.sessions, router.settings, client_id="router-outbox-b")
    try:
        sent = await asyncio.gather(router.relay.drain(), other.drain())
    finally:
        await other.close()
    assert sum(sent) == 6 and await router.relay.pending() == 0
    got = decoded(await collect(kafka_bootstrap, q(ns, topics.RELEASED), 6, settle=1.0))
    assert sorted(e.id for e in got) == sorted(r.id for r in released)  # each exactly once
