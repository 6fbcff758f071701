"""The router's stage, dispatcher, lifecycle, four-eyes and KPIs on a real database (SQLite and
PostgreSQL): capacity and re-offer, stickiness, relaxation after a timeout, unstaffed queues,
duplicate events changing nothing, and KPIs from a replayed stream."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.router.app import runtime_of
from services.router.lifecycle import LifecycleStage
from services.router.reports import kpi_report
from services.router.reviews import ReviewError, Reviews
from services.router.tables import Agent, AuditEntry, RoutedItem
from shared import db, schemagen
from shared.events import (
    ChannelKind,
    Decision,
    HelpdeskItemUpdated,
    ItemAssigned,
    Lifecycle,
    LifecycleAction,
    MessageClassified,
    QueueUnstaffed,
    derived_id,
)
from shared.runner import RecordMeta
from shared.settings import RouterSettings

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Monday, open
META = RecordMeta("t", 0, 0, None)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def classified(n: int, conversation: str | None = None, language="de", tags=("question",), decision="reply",
               channel=ChannelKind.PUBLIC_COMMENT) -> MessageClassified:
    base = schemagen.example_events()[1]
    msg = base.data.message.model_copy(update={"platform_message_id": f"m-{n}", "channel_kind": channel,
                                               "conversation_id": conversation or f"conv-{n}", "created_at": T0})
    cls = base.data.classification.model_copy(update={"language": language, "tags": tuple(tags), "decision": Decision(decision)})
    return base.model_copy(update={"id": derived_id(f"m-{n}", "test"), "data": base.data.model_copy(
        update={"message": msg, "classification": cls})})


@pytest.fixture
async def router(database_url):
    engine = db.engine(database_url)
    clock = Clock()
    runtime = runtime_of(RouterSettings(database_url=database_url), db.sessions(engine), clock)
    await runtime.prepare()
    runtime.clock_ = clock
    runtime.sessions = db.sessions(engine)
    yield runtime
    await engine.dispose()


async def route(runtime, event):
    return await runtime.runners[0].stage(event, META)


async def online(runtime, *agents):
    for a in agents:
        await runtime.directory.set_status(a, "online", runtime.clock(), "test")


def kinds(outputs):
    return [type(o.event).__name__ for o in outputs]


async def row(runtime, n) -> RoutedItem:
    async with runtime.sessions() as s:
        return (await s.execute(select(RoutedItem).where(RoutedItem.message_key.endswith(f":m-{n}")))).scalar_one()


async def test_nobody_online_item_waits_and_the_notifier_is_told(router):
    outputs = await route(router, classified(1))
    assert kinds(outputs) == ["ItemRouted", "QueueUnstaffed"]
    unstaffed = outputs[1].event
    assert isinstance(unstaffed, QueueUnstaffed) and unstaffed.data.queue == "support-de"
    assert unstaffed.data.online_agents == 0 and unstaffed.data.waiting == 1
    assert (await row(router, 1)).work_state == "waiting"
    assert kinds(await route(router, classified(2))) == ["ItemRouted"]  # told once per queue, not per item
    router.clock_.now = T0 + timedelta(minutes=16)
    assert kinds(await route(router, classified(3))) == ["ItemRouted", "QueueUnstaffed"]  # still unstaffed


async def test_least_loaded_agent_gets_the_item_and_capacity_is_respected(router):
    await online(router, "anna", "jonas")  # care-de: anna capacity 4, jonas 3
    assigned = []
    for n in range(1, 9):
        outs = await route(router, classified(n))
        assigned += [o.event.data.agent_id for o in outs if isinstance(o.event, ItemAssigned)]
    assert len(assigned) == 7  # 4 + 3 conversations; the 8th waits
    assert sorted(assigned) == ["anna"] * 4 + ["jonas"] * 3
    assert assigned[:2] == ["anna", "jonas"]  # least loaded, ties by id
    assert (await row(router, 8)).work_state == "waiting"


async def test_follow_up_stays_with_the_conversations_agent(router):
    await online(router, "anna", "jonas")
    first = [o.event for o in await route(router, classified(1, conversation="c"))][1]
    follow = [o.event for o in await route(router, classified(2, conversation="c"))][1]
    assert first.data.agent_id == follow.data.agent_id == "anna" and follow.data.cause == "sticky"
    async with router.sessions() as s:
        assert (await s.get(Agent, "anna")).load == 1  # one open conversation, two items


async def test_resolution_frees_capacity_and_the_most_urgent_oldest_waiting_item_is_offered(router):
    await online(router, "lena")  # escalations: capacity 2
    for n in (1, 2, 3, 4):
        await route(router, classified(n, tags=("reason:press",) + (("sentiment:negative",) if n == 4 else ())))
    assert [(await row(router, n)).agent_id for n in (1, 2, 3, 4)] == ["lena", "lena", None, None]
    lifecycle = LifecycleStage(router.sessions, router.dispatcher)
    resolved = HelpdeskItemUpdated(id="hd-1", source="helpdesk/test", time=T0, correlation_id="c",
                                   data=Lifecycle(item_id=(await row(router, 1)).event_id,
                                                  action=LifecycleAction.RESOLVED, at=T0 + timedelta(minutes=5)))
    outputs = await lifecycle(resolved, META)
    assert [o.event.data.message_key.split(":")[-1] for o in outputs] == ["m-4"]  # negative sentiment: more urgent
    assert outputs[0].event.data.cause == "reoffered"
    assert await lifecycle(resolved, META) == []  # the same event again changes nothing
    async with router.sessions() as s:
        assert (await s.get(Agent, "lena")).load == 2


async def test_agent_coming_online_gets_waiting_work_and_skills_relax_after_timeout(router):
    await route(router, classified(1, tags=("reason:billing",)))  # billing-de needs billing >= 2: only anna
    await online(router, "jonas")  # no billing skill
    assert await router.dispatcher.offer_waiting(T0 + timedelta(minutes=5)) == []
    made = await router.dispatcher.offer_waiting(T0 + timedelta(minutes=21))  # level 2: skill dropped
    assert [(m.agent_id, m.cause, m.relax_level) for m in made] == [("jonas", "relaxed", 2)]
    async with router.sessions() as s:
        actions = [a.action for a in (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()]
    assert actions[:1] == ["routed"] and "relaxed" in actions and actions[-1] == "assigned"


async def test_duplicate_classified_event_changes_nothing(router):
    await online(router, "anna")
    first = await route(router, classified(1))
    for o in first:
        if o.on_acked:
            await o.on_acked()
    assert await route(router, classified(1)) == []
    async with router.sessions() as s:
        assert (await s.get(Agent, "anna")).load == 1


async def test_four_eyes_never_by_the_author_and_a_rejection_needs_a_reason(router):
    await online(router, "lena")
    item_id = [o.event for o in await route(router, classified(1, tags=("reason:legal",)))][0].id
    reviews = Reviews(router.sessions, lambda: router.dispatcher.state.config)
    draft, released = await reviews.submit(item_id, "lena", "Wir melden uns.", T0)
    assert draft.state == "submitted" and released is None
    with pytest.raises(ReviewError, match="author"):
        await reviews.decide(draft.id, "lena", True, None, T0)
    with pytest.raises(ReviewError, match="reason"):
        await reviews.decide(draft.id, "anna", False, " ", T0)
    draft, released = await reviews.decide(draft.id, "anna", True, None, T0)
    assert draft.state == "released" and released.data.approver == "anna" and released.data.author == "lena"
    with pytest.raises(ReviewError, match="not awaiting"):
        await reviews.decide(draft.id, "emma", False, "late", T0)
    plain = [o.event for o in await route(router, classified(2))][0].id
    assert (await reviews.submit(plain, "anna", "Hallo!", T0))[1] is not None  # no review needed
    assert (await reviews.submit(plain, "jonas", "Hallo!", T0))[1] is None  # trainee: review needed


async def test_kpis_from_a_replayed_stream(router):
    await online(router, "anna", "emma")
    events = [classified(1), classified(2, language="en", channel=ChannelKind.DIRECT_MESSAGE),
              classified(3, decision="tag", tags=("reason:praise",)), classified(4, decision="drop"),
              classified(5, conversation="conv-1", tags=("sentiment:positive",))]
    for e in events + events:  # replayed: the second pass changes nothing
        for o in await route(router, e):
            if o.on_acked:
                await o.on_acked()
    lifecycle = LifecycleStage(router.sessions, router.dispatcher)
    one, two = (await row(router, 1)).event_id, (await row(router, 2)).event_id
    changes = [("r1", one, LifecycleAction.REPLIED, 10, 120.0), ("r2", two, LifecycleAction.REPLIED, 30, 60.0),
               ("x1", one, LifecycleAction.RESOLVED, 40, None), ("x2", two, LifecycleAction.RESOLVED, 50, None)]
    for eid, item, action, minutes, handling in changes * 2:
        await lifecycle.apply(eid, Lifecycle(item_id=item, action=action, at=T0 + timedelta(minutes=minutes),
                                             handling_seconds=handling), "helpdesk/test")
    k = await kpi_report(router.sessions, router.dispatcher.state.calendar)
    assert k["messages"] == 4 and k["share_needing_reply"]["overall"] == 0.75
    assert k["share_needing_reply"]["per_channel"]["direct_message"] == 1.0
    assert k["first_response_time"] == {"calendar_s": 1200.0, "business_s": 1200.0}
    assert k["time_to_resolution"]["calendar_s"] == 2700.0
    assert k["handling_time_s"]["reply"] == 90.0
    assert k["sla_attainment"] == {"business": 0.5, "calendar": 0.5, "answered": 2}  # DM due in 20 min
    assert k["contact_reasons"]["praise"] == 1
