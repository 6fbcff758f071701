"""The routed items' batched path: a whole poll in one transaction, on both databases, with the
real broker where acking matters — poison in the middle of a poll, a redelivered poll, two items of
one conversation in one poll, and a poll whose transaction fails (nothing stored, nothing acked,
everything stored once the database takes it)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifier.app import NotifierStage, build
from services.notifier.settings import NotifierSettings
from services.notifier.tables import DigestItem, IncidentItem, SlaTimer
from shared import codec, schemagen, topics
from shared.db import async_url
from shared.events import Urgency
from shared.runner import RecordMeta, RunnerFailed
from tests.integration.test_notifier_lifecycle import eventually
from tests.integration.test_notifier_paging import (
    SUNDAY_NIGHT,
    Clock,
    notifier,
    oncall_file,
    routed,
    sink,  # noqa: F401 - the sink fixture
)
from tests.kafkautil import collect, produce, produce_raw

META = RecordMeta("routed", 0, 0, None)


async def rows(paging, table) -> int:
    async with paging.incidents._sessions() as session:
        return await session.scalar(select(func.count()).select_from(table)) or 0


def service_for(database_url, tmp_path, sink_url, bootstrap, ns, **extra):
    settings = NotifierSettings(
        database_url=database_url,
        oncall_file=oncall_file(tmp_path, sink_url),
        page_url=f"{sink_url}/pages",
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=ns,
        consumer_group=f"{ns}notifier",
        scheduler_interval_s=3600,
        poll_timeout_ms=100,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        **extra,
    )
    return build(settings, clock=Clock(SUNDAY_NIGHT))[1]


async def test_poison_in_the_middle_of_a_poll_is_dead_lettered_and_the_rest_stored(
    database_url, tmp_path, sink, kafka_bootstrap, topics_ready
):
    ns = topics_ready
    first, last = routed(0, conversation="conv-a"), routed(1, conversation="conv-b")
    wrong = codec.encode(schemagen.example_events()[1])  # a classified message: not the notifier's
    topic, key = (
        topics.qualified(topics.ROUTED, ns),
        first.subject.encode(),
    )  # one key: one partition, in order
    await produce(kafka_bootstrap, topic, [first])
    await produce_raw(
        kafka_bootstrap,
        topic,
        b"{not json",
        headers=[("ce_type", b"switchboard.item.routed.v1")],
        key=key,
    )
    await produce_raw(kafka_bootstrap, topic, wrong.value, headers=wrong.headers, key=key)
    await produce(kafka_bootstrap, topic, [last])
    service = service_for(database_url, tmp_path, sink.url, kafka_bootstrap, ns)
    runner, run = service.runners[0], asyncio.create_task(service.run())
    try:
        await eventually(
            lambda: _true(runner.state.processed + runner.state.dead_lettered >= 4), what="the poll"
        )
        dead = await collect(kafka_bootstrap, topics.dlq_for(topics.ROUTED, ns), 2, settle=0.3)
    finally:
        service.stop()
        await asyncio.wait_for(run, 30)
    assert (runner.state.processed, runner.state.dead_lettered) == (2, 2)
    assert (
        any(b"notifier cannot handle" in dict(r.headers)["dlq.error"] for r in dead)
        and len(dead) == 2
    )
    incidents = await service.paging.incidents.listing()
    assert sorted(i.key for i in incidents) == sorted(
        [first.data.message.conversation_key, last.data.message.conversation_key]
    )
    assert await rows(service.paging, SlaTimer) == 4


async def test_a_redelivered_poll_writes_nothing_twice(database_url, tmp_path, sink):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = notifier(database_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    stage = NotifierStage(paging, clock)
    poll = [
        routed(0, conversation="conv-a"),
        routed(1, conversation="conv-a"),
        routed(2, Urgency.NORMAL, conversation="conv-d", deadline_min=24 * 60),
        routed(0, conversation="conv-a"),
    ]
    assert await stage.process_batch([(e, META) for e in poll]) == [[], [], [], []]
    stored = [await rows(paging, t) for t in (IncidentItem, SlaTimer, DigestItem)]
    assert stored == [2, 6, 1], "an event twice in one poll attaches once"
    await stage.process_batch(
        [(e, META) for e in poll]
    )  # the runner retried it, or the group rebalanced
    assert [await rows(paging, t) for t in (IncidentItem, SlaTimer, DigestItem)] == stored
    [incident] = await paging.incidents.listing()
    assert incident.item_count == 2
    # a later poll redelivering one item next to a new one: the new one joins the stored incident
    await stage.process_batch([(e, META) for e in (poll[1], routed(3, conversation="conv-a"))])
    [incident] = await paging.incidents.listing()
    assert incident.item_count == 3 and await rows(paging, IncidentItem) == 3
    await paging.tick(clock())
    await paging.tick(clock())
    assert sink.deliveries == 1, "one page for the conversation"


async def test_two_replicas_storing_the_same_poll_at_once_store_it_once(
    database_url, tmp_path, sink
):
    clock, path = Clock(SUNDAY_NIGHT), oncall_file(tmp_path, sink.url)
    stages = [
        NotifierStage(notifier(database_url, path, sink.url, clock)[1], clock) for _ in range(2)
    ]
    poll = [(routed(i, conversation="conv-r"), META) for i in range(5)]
    await asyncio.gather(
        *(stage.process_batch(poll) for stage in stages)
    )  # the loser plans again after its conflict
    paging = stages[0].paging
    [incident] = await paging.incidents.listing()
    assert (
        incident.item_count == 5
        and await rows(paging, IncidentItem) == 5
        and await rows(paging, SlaTimer) == 10
    )


async def test_two_items_of_one_conversation_in_one_poll_behave_as_in_order(
    database_url, tmp_path, sink
):
    clock = Clock(SUNDAY_NIGHT)
    _, paging = notifier(database_url, oncall_file(tmp_path, sink.url), sink.url, clock)
    stage = NotifierStage(paging, clock)
    await stage.process_batch([(routed(0, conversation="conv-x"), META)])
    [old] = await paging.incidents.listing()
    await paging.resolve(
        old.id, "test", clock()
    )  # the conversation's next items open a new incident
    poll = [
        with_text(routed(1, conversation="conv-x"), "first of the burst"),
        routed(2, Urgency.LOW, conversation="conv-x"),
        with_text(routed(3, conversation="conv-x"), "second of the burst"),
    ]
    await stage.process_batch([(e, META) for e in poll])
    incidents = {i.id: i for i in await paging.incidents.listing()}
    [new] = [i for i in incidents.values() if i.id != old.id]
    assert incidents[old.id].status == "resolved" and incidents[old.id].item_count == 1
    assert new.status == "triggered" and new.item_count == 2, (
        "the low-urgency item goes to the digest"
    )
    assert "first of the burst" in new.summary, (
        "the poll's first item of the conversation opened the incident"
    )
    await stage.process_batch([(routed(4, conversation="conv-x"), META)])
    assert (await paging.incidents.get(new.id)).item_count == 3
    assert (
        await rows(paging, DigestItem) == 1 and await rows(paging, SlaTimer) == 8
    )  # none for the low one


def with_text(event, text: str):
    message = event.data.message.model_copy(update={"text": text})
    return event.model_copy(update={"data": event.data.model_copy(update={"message": message})})


async def test_a_poll_whose_transaction_fails_stores_nothing_acks_nothing_and_is_stored_later(
    database_url, tmp_path, sink, kafka_bootstrap, topics_ready
):
    ns = topics_ready
    poll = [routed(i, conversation="conv-f") for i in range(3)]
    await produce(kafka_bootstrap, topics.qualified(topics.ROUTED, ns), poll)
    engine = create_async_engine(async_url(database_url))
    async with (
        engine.begin() as conn
    ):  # the database refuses the poll's second item (PostgreSQL: at COMMIT)
        for statement in REFUSE[conn.dialect.name]:
            await conn.execute(text(statement.replace("ITEM", poll[1].id)))
    failing = service_for(
        database_url,
        tmp_path,
        sink.url,
        kafka_bootstrap,
        ns,
        retry_max_attempts=2,
        retry_initial_backoff_s=0.01,
    )
    with pytest.raises(RunnerFailed, match="refused"):
        await asyncio.wait_for(failing.run(), 60)
    assert failing.runners[0].state.processed == 0
    assert [await rows(failing.paging, t) for t in (IncidentItem, SlaTimer)] == [0, 0], (
        "all or nothing"
    )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "DROP TRIGGER refuse_item"
                + (" ON notifier_sla_timers" if conn.dialect.name == "postgresql" else "")
            )
        )
    await engine.dispose()
    again = service_for(
        database_url, tmp_path, sink.url, kafka_bootstrap, ns
    )  # same group: offsets not committed
    run = asyncio.create_task(again.run())
    try:
        await eventually(
            lambda: _true(again.runners[0].state.processed >= 3), what="the redelivered poll"
        )
    finally:
        again.stop()
        await asyncio.wait_for(run, 30)
    [incident] = await again.paging.incidents.listing()
    assert incident.item_count == 3 and await rows(again.paging, SlaTimer) == 6


REFUSE = {
    "postgresql": [
        """CREATE FUNCTION refuse_item() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
           IF NEW.item_event_id = 'ITEM' THEN RAISE EXCEPTION 'refused ITEM'; END IF; RETURN NULL; END $$""",
        """CREATE CONSTRAINT TRIGGER refuse_item AFTER INSERT ON notifier_sla_timers
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_item()""",
    ],
    "sqlite": [
        """CREATE TRIGGER refuse_item BEFORE INSERT ON notifier_sla_timers WHEN NEW.item_event_id = 'ITEM'
                  BEGIN SELECT RAISE(ABORT, 'refused ITEM'); END"""
    ],
}


async def _true(value: bool) -> bool:
    return value
