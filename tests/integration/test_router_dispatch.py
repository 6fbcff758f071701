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
from services.router.outbox import row_event
from services.router.reports import kpi_report
from services.router.reviews import ReviewError, Reviews
from services.router.settings import RouterSettings
from services.router.tables import Agent, AuditEntry, OutboxRow, RoutedItem
from shared import db, schemagen, topics
from shared.auth import Principal
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

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # Monday, open
META = RecordMeta("t", 0, 0, None)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def classified(
    n: int,
    conversation: str | None = None,
    language="de",
    tags=("question",),
    decision="reply",
    channel=ChannelKind.PUBLIC_COMMENT,
) -> MessageClassified:
    base = schemagen.example_events()[1]
    msg = base.data.message.model_copy(
        update={
            "platform_message_id": f"m-{n}",
            "channel_kind": channel,
            "conversation_id": conversation or f"conv-{n}",
            "created_at": T0,
        }
    )
    cls = base.data.classification.model_copy(
        update={"language": language, "tags": tuple(tags), "decision": Decision(decision)}
    )
    return base.model_copy(
        update={
            "id": derived_id(f"m-{n}", "test"),
            "data": base.data.model_copy(update={"message": msg, "classification": cls}),
        }
    )


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


def main(outputs):
    """The outputs without the per-queue copies of the routed event."""
    return [o for o in outputs if topics.per_queue_parent(o.topic) is None]


def kinds(outputs):
    return [type(o.event).__name__ for o in main(outputs)]


async def outboxed(runtime, topic=None) -> list:
    """The events in the outbox (oldest first), optionally for one topic."""
    async with runtime.sessions() as s:
        rows = (await s.execute(select(OutboxRow).order_by(OutboxRow.seq))).scalars().all()
    return [row_event(r) for r in rows if topic is None or r.topic == topic]


async def row(runtime, n) -> RoutedItem:
    async with runtime.sessions() as s:
        return (
            await s.execute(select(RoutedItem).where(RoutedItem.message_key.endswith(f":m-{n}")))
        ).scalar_one()


async def test_nobody_online_item_waits_and_the_notifier_is_told(router):
    outputs = await route(router, classified(1))
    assert kinds(outputs) == ["ItemRouted", "QueueUnstaffed"]
    # the routed event also goes to the queue's own topic: same event, same key
    assert [o.topic for o in outputs[:2]] == [
        topics.ROUTED,
        "switchboard.items.routed.v1.support-de",
    ]
    assert outputs[0].event is outputs[1].event
    unstaffed = main(outputs)[1].event
    assert isinstance(unstaffed, QueueUnstaffed) and unstaffed.data.queue == "support-de"
    assert unstaffed.data.online_agents == 0 and unstaffed.data.waiting == 1
    assert (await row(router, 1)).work_state == "waiting"
    assert kinds(await route(router, classified(2))) == [
        "ItemRouted"
    ]  # told once per queue, not per item
    router.clock_.now = T0 + timedelta(minutes=16)
    assert kinds(await route(router, classified(3))) == [
        "ItemRouted",
        "QueueUnstaffed",
    ]  # still unstaffed


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
    first = [o.event for o in main(await route(router, classified(1, conversation="c")))][1]
    follow = [o.event for o in main(await route(router, classified(2, conversation="c")))][1]
    assert first.data.agent_id == follow.data.agent_id == "anna" and follow.data.cause == "sticky"
    async with router.sessions() as s:
        assert (await s.get(Agent, "anna")).load == 1  # one open conversation, two items


async def test_resolution_frees_capacity_and_the_most_urgent_oldest_waiting_item_is_offered(router):
    await online(router, "lena")  # escalations: capacity 2
    for n in (1, 2, 3, 4):
        await route(
            router,
            classified(n, tags=("reason:press",) + (("sentiment:negative",) if n == 4 else ())),
        )
    assert [(await row(router, n)).agent_id for n in (1, 2, 3, 4)] == ["lena", "lena", None, None]
    lifecycle = LifecycleStage(router.sessions, router.dispatcher)
    resolved = HelpdeskItemUpdated(
        id="hd-1",
        source="helpdesk/test",
        time=T0,
        correlation_id="c",
        data=Lifecycle(
            item_id=(await row(router, 1)).event_id,
            action=LifecycleAction.RESOLVED,
            at=T0 + timedelta(minutes=5),
        ),
    )
    assert await lifecycle(resolved, META) == []  # the re-offer goes through the outbox
    offered = await outboxed(router, topics.ASSIGNED)
    assert [e.data.message_key.split(":")[-1] for e in offered] == [
        "m-4"
    ]  # negative sentiment: more urgent
    assert offered[0].data.cause == "reoffered" and offered[0].correlation_id == "c"
    assert await lifecycle(resolved, META) == []  # the same event again changes nothing
    assert len(await outboxed(router)) == 1
    async with router.sessions() as s:
        assert (await s.get(Agent, "lena")).load == 2


async def test_agent_coming_online_gets_waiting_work_and_skills_relax_after_timeout(router):
    await route(
        router, classified(1, tags=("reason:billing",))
    )  # billing-de needs billing >= 2: only anna
    await online(router, "jonas")  # no billing skill
    assert await router.dispatcher.offer_waiting(T0 + timedelta(minutes=5)) == []
    made = await router.dispatcher.offer_waiting(
        T0 + timedelta(minutes=21)
    )  # level 2: skill dropped
    assert [(m.agent_id, m.cause, m.relax_level) for m in made] == [("jonas", "relaxed", 2)]
    async with router.sessions() as s:
        actions = [
            a.action
            for a in (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
        ]
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
    item_id = [o.event for o in main(await route(router, classified(1, tags=("reason:legal",))))][
        0
    ].id
    reviews = Reviews(router.sessions, lambda: router.dispatcher.state.config)
    draft, released = await reviews.submit(item_id, "lena", "Wir melden uns.", T0)
    assert draft.state == "submitted" and released is None
    with pytest.raises(ReviewError, match="author"):
        await reviews.decide(draft.id, agent("lena"), True, None, T0)
    with pytest.raises(ReviewError, match="reason"):
        await reviews.decide(draft.id, agent("anna"), False, " ", T0)
    draft, released = await reviews.decide(draft.id, agent("anna"), True, None, T0)
    assert (
        draft.state == "released"
        and released.data.approver == "anna"
        and released.data.author == "lena"
    )
    with pytest.raises(ReviewError, match="not awaiting"):
        await reviews.decide(draft.id, agent("emma"), False, "late", T0)
    plain = [o.event for o in main(await route(router, classified(2)))][0].id
    assert (await reviews.submit(plain, "anna", "Hallo!", T0))[1] is not None  # no review needed
    assert (await reviews.submit(plain, "jonas", "Hallo!", T0))[1] is None  # trainee: review needed


async def test_four_eyes_reviewer_must_be_of_the_team_not_a_trainee_and_of_the_rules_role(router):
    config = router.dispatcher.state.config
    strict = config.model_copy(
        update={
            "rules": tuple(
                r.model_copy(update={"four_eyes_reviewer": "lead"}) if r.four_eyes else r
                for r in config.rules
            )
        }
    )
    reviews = Reviews(router.sessions, lambda: strict)
    await online(router, "lena")
    sensitive = [o.event for o in main(await route(router, classified(1, tags=("reason:legal",))))][
        0
    ]
    assert sensitive.data.routing.four_eyes and sensitive.data.routing.rule == "press-or-legal"
    draft, _ = await reviews.submit(sensitive.id, "lena", "Unsere Rechtsabteilung ...", T0)
    with pytest.raises(ReviewError, match="trainee") as trainee:
        await reviews.decide(draft.id, Principal("jonas", "lead", None), True, None, T0)
    assert trainee.value.status == 403
    with pytest.raises(ReviewError, match="needs the lead role") as role:
        await reviews.decide(draft.id, agent("anna"), True, None, T0)
    assert role.value.status == 403
    with pytest.raises(ReviewError, match="does not act for team escalations"):
        await reviews.decide(draft.id, Principal("maria", "lead", "care-de"), True, None, T0)
    draft, released = await reviews.decide(
        draft.id, Principal("maria", "lead", "escalations"), True, None, T0
    )
    assert draft.state == "released" and released.data.approver == "maria"


def agent(subject: str) -> Principal:
    return Principal(subject, "agent", None)


async def test_kpis_from_a_replayed_stream(router):
    await online(router, "anna", "emma")
    events = [
        classified(1),
        classified(2, language="en", channel=ChannelKind.DIRECT_MESSAGE),
        classified(3, decision="tag", tags=("reason:praise",)),
        classified(4, decision="drop"),
        classified(5, conversation="conv-1", tags=("sentiment:positive",)),
    ]
    for e in events + events:  # replayed: the second pass changes nothing
        for o in await route(router, e):
            if o.on_acked:
                await o.on_acked()
    lifecycle = LifecycleStage(router.sessions, router.dispatcher)
    one, two = (await row(router, 1)).event_id, (await row(router, 2)).event_id
    changes = [
        ("r1", one, LifecycleAction.REPLIED, 10, 120.0),
        ("r2", two, LifecycleAction.REPLIED, 30, 60.0),
        ("x1", one, LifecycleAction.RESOLVED, 40, None),
        ("x2", two, LifecycleAction.RESOLVED, 50, None),
    ]
    for eid, item, action, minutes, handling in changes * 2:
        await lifecycle.apply(
            eid,
            Lifecycle(
                item_id=item,
                action=action,
                at=T0 + timedelta(minutes=minutes),
                handling_seconds=handling,
            ),
            "helpdesk/test",
        )
    k = await kpi_report(router.sessions, router.dispatcher.state.calendar)
    assert k["messages"] == 4 and k["share_needing_reply"]["overall"] == 0.75
    assert k["share_needing_reply"]["per_channel"]["direct_message"] == 1.0
    frt = k["first_response_time"]  # 10 and 30 minutes after the post
    assert (frt["calendar_s"], frt["business_s"], frt["count"]) == (1200.0, 1200.0, 2)
    assert (frt["median_calendar_s"], frt["p90_calendar_s"]) == (1200.0, 1680.0)
    assert k["time_to_resolution"]["calendar_s"] == 2700.0
    assert k["handling_time_s"]["reply"] == 90.0
    assert k["sla_attainment"] == {
        "business": 0.5,
        "calendar": 0.5,
        "answered": 2,
    }  # DM due in 20 min
    assert k["contact_reasons"]["praise"] == 1


async def test_skills_relax_in_business_time_not_over_the_weekend(router):
    friday = datetime(
        2026, 11, 27, 16, 55, tzinfo=ZoneInfo("Europe/Berlin")
    )  # 5 business minutes left
    router.clock_.now = friday
    await route(
        router, classified(1, tags=("reason:billing",))
    )  # billing-de: billing >= 2, only anna
    await online(router, "jonas")  # no billing skill
    monday = datetime(
        2026, 11, 30, 9, 10, tzinfo=ZoneInfo("Europe/Berlin")
    )  # 64 wall hours, 15 business minutes
    assert (
        await router.dispatcher.offer_waiting(monday) == []
    )  # level 1 (proficiency) only: still needs the skill
    assert (await row(router, 1)).relax_level == 1
    made = await router.dispatcher.offer_waiting(
        monday + timedelta(minutes=6)
    )  # 21 business minutes: skill dropped
    assert [(m.agent_id, m.cause, m.relax_level) for m in made] == [("jonas", "relaxed", 2)]


async def test_kpis_in_sql_match_the_python_reference_and_honour_windows(router):
    from services.router import kpis
    from services.router.store import RESOLVED, aware
    from services.router.tables import ConversationMessage, MessageFact, Queue

    await online(router, "anna", "emma", "lena")
    late = T0 + timedelta(hours=6, minutes=30)  # 16:30: replies run into the night
    events = [
        classified(1),
        classified(2, language="en", channel=ChannelKind.DIRECT_MESSAGE),
        classified(3, decision="tag", tags=("reason:praise",)),
        classified(4, decision="drop"),
        classified(5, conversation="conv-1", tags=("sentiment:positive",)),
        classified(6, tags=("reason:press", "sentiment:negative"), channel=ChannelKind.MENTION),
        classified(7, language="en", tags=("reason:delivery",)),
    ]
    for e in events + events:  # replayed: the second pass changes nothing
        for o in await route(router, e):
            if o.on_acked:
                await o.on_acked()
    router.clock_.now = late
    eight = classified(8, language="en", channel=ChannelKind.DIRECT_MESSAGE)
    eight = eight.model_copy(
        update={
            "data": eight.data.model_copy(
                update={"message": eight.data.message.model_copy(update={"created_at": late})}
            )
        }
    )
    await route(router, eight)
    # the press customer writes again, calmer: their conversation's sentiment improved
    nine = classified(9, conversation="conv-6", decision="tag", tags=("sentiment:positive",))
    nine = nine.model_copy(
        update={
            "data": nine.data.model_copy(
                update={
                    "message": nine.data.message.model_copy(
                        update={"created_at": T0 + timedelta(minutes=5)}
                    )
                }
            )
        }
    )
    await route(router, nine)
    lifecycle = LifecycleStage(router.sessions, router.dispatcher)
    ids = {n: (await row(router, n)).event_id for n in (1, 2, 5, 6, 7)}
    changes = [
        ("r1", 1, LifecycleAction.REPLIED, 10, 120.0),
        ("r2", 2, LifecycleAction.REPLIED, 30, 60.0),
        ("r6", 6, LifecycleAction.REPLIED, 8 * 60, 30.0),
        ("r6b", 6, LifecycleAction.REPLIED, 22 * 60, 10.0),
        ("x1", 1, LifecycleAction.RESOLVED, 40, None),
        ("x2", 2, LifecycleAction.RESOLVED, 50, None),
        ("x6", 6, LifecycleAction.RESOLVED, 23 * 60, None),
        ("x7", 7, LifecycleAction.RESOLVED, 15, 45.0),
    ]
    for eid, n, action, minutes, handling in changes * 2:
        await lifecycle.apply(
            eid,
            Lifecycle(
                item_id=ids[n],
                action=action,
                at=T0 + timedelta(minutes=minutes),
                handling_seconds=handling,
            ),
            "helpdesk/test",
        )
    calendar = router.dispatcher.state.calendar
    async with router.sessions() as s:  # the reference: the former Python aggregation over all rows
        facts = [
            kpis.Fact(f.channel, f.decision, f.reason)
            for f in (await s.execute(select(MessageFact))).scalars()
        ]
        rows = list((await s.execute(select(RoutedItem))).scalars())
        teams = dict((await s.execute(select(Queue.id, Queue.team_id))).all())
        said = [
            kpis.Said(m.conversation_key, m.author_id, aware(m.at), m.sentiment)
            for m in (await s.execute(select(ConversationMessage))).scalars()
            if m.sentiment
        ]
    times = [
        kpis.ItemTimes(
            received_at=min(aware(r.received_at), aware(r.routed_at)),
            routed_at=aware(r.routed_at),
            sla_deadline=aware(r.sla_deadline),
            sla_business_s=r.sla_business_s,
            first_response_at=aware(r.first_response_at),
            resolved_at=aware(r.resolved_at),
            responses=r.responses,
            response_s_total=r.response_s_total,
            handling_s=r.handling_s,
            reason=r.reason,
            channel=r.channel,
            team=teams.get(r.queue),
            satisfaction=r.satisfaction,
            tag_only=r.work_state == RESOLVED and not r.responses,
        )
        for r in rows
    ]
    reference = kpis.compute(facts, times, said, calendar)
    report = await kpi_report(router.sessions, calendar)
    assert {k: report[k] for k in reference} == reference
    assert (
        report["first_response_time"]["business_s"] < report["first_response_time"]["calendar_s"]
    )  # the night
    assert report["by_channel"]["direct_message"]["items"] == 2
    assert report["by_channel"]["direct_message"]["sla_attainment"] == {
        "business": 0.0,
        "calendar": 0.0,
        "answered": 1,
    }
    assert report["by_reason"]["press"]["time_to_resolution"]["calendar_s"] == 23 * 3600.0

    # a window: only the messages received from 16:00 on (the late direct message)
    window = await kpi_report(
        router.sessions, calendar, since=T0 + timedelta(hours=6), until=T0 + timedelta(days=1)
    )
    assert window["messages"] == 1 and window["share_needing_reply"]["per_channel"] == {
        "direct_message": 1.0
    }
    assert window["first_response_time"]["count"] == 0
    assert window["first_response_time"]["calendar_s"] is None
    assert window["window"]["since"].startswith("2026-11-23T15:00")  # UTC
    queues = await kpi_report(router.sessions, calendar, queues={"escalations"})
    assert queues["sla_attainment"]["answered"] == 1 and set(queues["by_channel"]) == {"mention"}
    assert queues["sentiment_change"] == {
        "conversations": 1,
        "improved": 1,
        "worsened": 0,
        "unchanged": 0,
        "mean_delta": 2.0,
    }


async def test_sweeper_reminds_the_notifier_of_a_queue_that_stays_unstaffed(router):
    outputs = await route(router, classified(1))  # nobody online: told at routing
    assert kinds(outputs) == ["ItemRouted", "QueueUnstaffed"]
    await route(router, classified(2))
    assert (
        await router.dispatcher.remind_unstaffed(T0 + timedelta(minutes=10)) == 0
    )  # told 10 minutes ago
    assert await router.dispatcher.remind_unstaffed(T0 + timedelta(minutes=16)) == 1
    [notice] = await outboxed(router, topics.UNSTAFFED)
    assert (notice.data.queue, notice.data.waiting, notice.data.online_agents) == (
        "support-de",
        2,
        0,
    )
    assert (
        notice.data.message_key.endswith(":m-1") and notice.subject == "support-de"
    )  # the oldest waiting item
    assert (
        await router.dispatcher.remind_unstaffed(T0 + timedelta(minutes=20)) == 0
    )  # once per 15 minutes
    assert await router.dispatcher.remind_unstaffed(T0 + timedelta(minutes=32)) == 1
    await online(router, "anna")
    router.clock_.now = T0 + timedelta(minutes=50)
    assert await router.sweep() == 2  # staffed again: both assigned, no further reminder
    assert len(await outboxed(router, topics.UNSTAFFED)) == 2
