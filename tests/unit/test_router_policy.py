"""The router's pure parts: rule validation with clear errors, routing decisions, SLA deadlines
in business time (weekends, German national and state holidays), priority, assignment."""

from datetime import datetime, timedelta

import pytest

from services.router.assign import (
    AgentView,
    Need,
    choose,
    eligible,
    relax_level,
    relaxed_steps,
)
from services.router.policy import priority, priority_at, route
from services.router.rules import RoutingConfigError, load_routing
from shared import schemagen
from shared.calendar_config import calendar_from
from shared.events import ChannelKind, Decision, Urgency
from shared.settings import ROOT

CONFIG = load_routing((ROOT / "config" / "routing.yaml").read_text())
WEEKDAYS = {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
BERLIN = calendar_from(
    {
        "timezone": "Europe/Berlin",
        "weekly": WEEKDAYS,
        "holidays": {"country": "DE", "subdivision": "BE"},
    }
)
BAVARIA = calendar_from(
    {
        "timezone": "Europe/Berlin",
        "weekly": WEEKDAYS,
        "holidays": {"country": "DE", "subdivision": "BY"},
    }
)


def at(y, mo, d, h, mi):  # Berlin local wall time -> aware
    from zoneinfo import ZoneInfo

    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo("Europe/Berlin"))


def item(
    language="de",
    tags=("question",),
    urgency=Urgency.NORMAL,
    channel=ChannelKind.PUBLIC_COMMENT,
    decision=Decision.REPLY,
):
    base = schemagen.example_events()[1].data
    return base.model_copy(
        update={
            "message": base.message.model_copy(update={"channel_kind": channel}),
            "classification": base.classification.model_copy(
                update={
                    "language": language,
                    "tags": tuple(tags),
                    "urgency": urgency,
                    "decision": decision,
                }
            ),
        }
    )


MONDAY_10 = at(2026, 11, 23, 10, 0)


@pytest.mark.parametrize(
    "kwargs,queue,rule",
    [
        ({"language": "de"}, "support-de", "german"),
        ({"language": "en"}, "support-en", "english"),
        ({"language": "tr"}, "support-default", "fallback"),
        ({"language": "de", "tags": ("reason:billing",)}, "billing-de", "billing-de"),
        ({"language": "en", "tags": ("reason:billing",)}, "support-en", "english"),
        ({"language": "en", "tags": ("reason:press",)}, "escalations", "press-or-legal"),
    ],
)
def test_rules_pick_the_queue_by_language_and_contact_reason(kwargs, queue, rule):
    placement = route(item(**kwargs), CONFIG, BERLIN, MONDAY_10)
    assert (placement.routing.queue, placement.rule) == (queue, rule)


def test_spam_and_noise_are_not_routed():
    assert route(item(decision=Decision.DROP), CONFIG, BERLIN, MONDAY_10) is None
    assert route(item(decision=Decision.TAG), CONFIG, BERLIN, MONDAY_10) is None


def test_four_eyes_for_press_rule_and_vip_tag_only():
    assert route(item(tags=("reason:legal",)), CONFIG, BERLIN, MONDAY_10).routing.four_eyes
    assert route(item(tags=("vip",)), CONFIG, BERLIN, MONDAY_10).routing.four_eyes
    assert not route(item(), CONFIG, BERLIN, MONDAY_10).routing.four_eyes


def posted(it, when):
    """``it`` as posted on the platform at ``when``."""
    return it.model_copy(update={"message": it.message.model_copy(update={"created_at": when})})


def test_near_live_sla_is_twenty_business_minutes_inside_office_hours():
    dm = posted(item(channel=ChannelKind.DIRECT_MESSAGE), MONDAY_10)
    placement = route(dm, CONFIG, BERLIN, MONDAY_10)
    assert placement.routing.sla_deadline == MONDAY_10 + timedelta(minutes=20)


def test_deadline_skips_the_weekend():
    friday = at(2026, 11, 27, 16, 55)
    dm = posted(item(channel=ChannelKind.DIRECT_MESSAGE), friday)
    placement = route(dm, CONFIG, BERLIN, friday)
    assert placement.routing.sla_deadline == at(2026, 11, 30, 9, 15)


def test_deadline_skips_national_holidays_christmas():
    wednesday = at(2026, 12, 23, 16, 30)  # 30 min left; 24th is a normal weekday in DE (no holiday)
    review = item(channel=ChannelKind.REVIEW)
    due = route(posted(review, wednesday), CONFIG, BERLIN, wednesday).routing.sla_deadline
    assert due == at(2026, 12, 24, 16, 30)  # 480 business minutes
    christmas_eve = at(2026, 12, 24, 16, 0)
    after = route(posted(review, christmas_eve), CONFIG, BERLIN, christmas_eve)
    assert after.routing.sla_deadline == at(2026, 12, 28, 16, 0)  # 25th, 26th holidays, 27th Sunday


def test_the_sla_clock_starts_when_the_customer_posted_not_when_the_router_saw_it():
    # posted 10:00, stuck in a poller for 15 minutes: a 20-minute DM SLA has 5 minutes left
    dm = posted(item(channel=ChannelKind.DIRECT_MESSAGE), MONDAY_10)
    late = MONDAY_10 + timedelta(minutes=15)
    r = route(dm, CONFIG, BERLIN, late).routing
    assert r.sla_deadline == MONDAY_10 + timedelta(minutes=20)
    assert (r.sla_started_at, r.routed_at, r.ingestion_delay_seconds) == (MONDAY_10, late, 900.0)
    fresh = route(dm, CONFIG, BERLIN, MONDAY_10).routing
    assert r.priority > fresh.priority  # three quarters of the SLA used: climbs


def test_a_replayed_backlog_is_routed_already_breached_and_first():
    # posted eleven days ago: the deadline passed long ago; due now, at the breached priority
    old = at(2026, 11, 12, 10, 0)
    dm = posted(item(channel=ChannelKind.DIRECT_MESSAGE), old)
    r = route(dm, CONFIG, BERLIN, MONDAY_10).routing
    assert r.sla_deadline == old + timedelta(minutes=20) < r.routed_at
    assert r.ingestion_delay_seconds == (MONDAY_10 - old).total_seconds()
    breached = priority(timedelta(0), timedelta(minutes=20), "normal", None, False)
    assert r.priority == breached == 65  # 25 normal + 30 whole SLA used + 10 breached
    fresh = route(posted(dm, MONDAY_10), CONFIG, BERLIN, MONDAY_10).routing
    assert fresh.priority < r.priority


def test_a_post_time_in_the_future_starts_the_clock_at_routing_clock_skew():
    ahead = posted(item(channel=ChannelKind.DIRECT_MESSAGE), MONDAY_10 + timedelta(minutes=7))
    r = route(ahead, CONFIG, BERLIN, MONDAY_10).routing
    assert r.sla_started_at == MONDAY_10 and r.ingestion_delay_seconds == 0.0
    assert r.sla_deadline == MONDAY_10 + timedelta(minutes=20)


def test_state_holiday_counts_only_in_its_state():
    wednesday = at(
        2026, 6, 3, 16, 50
    )  # Thursday 4 June 2026: Corpus Christi, a holiday in BY, not in BE
    dm = posted(item(channel=ChannelKind.DIRECT_MESSAGE), wednesday)
    assert route(dm, CONFIG, BERLIN, wednesday).routing.sla_deadline == at(2026, 6, 4, 9, 10)
    assert route(dm, CONFIG, BAVARIA, wednesday).routing.sla_deadline == at(2026, 6, 5, 9, 10)


def test_priority_grows_as_business_time_runs_out_and_with_urgency_sentiment_vip():
    sla = timedelta(minutes=60)
    fresh, half, breached = (
        priority(left, sla, "normal", None, False) for left in (sla, sla / 2, timedelta(0))
    )
    assert fresh < half < breached
    assert priority(sla, sla, "high", None, False) > fresh
    assert priority(sla, sla, "normal", "negative", False) > fresh
    assert priority(sla, sla, "normal", None, True) > fresh
    assert priority(timedelta(0), sla, "high", "negative", True) == 100


def test_priority_recomputed_on_read_stands_still_over_the_weekend():
    deadline = at(2026, 11, 30, 9, 30)  # Monday: 30 business minutes left from Friday's close on
    friday, saturday = at(2026, 11, 27, 17, 30), at(2026, 11, 28, 12, 0)
    args = (deadline, timedelta(minutes=60), "normal", None, False)
    assert priority_at(BERLIN, friday, *args) == priority_at(BERLIN, saturday, *args)
    assert priority_at(BERLIN, at(2026, 11, 30, 9, 20), *args) > priority_at(
        BERLIN, saturday, *args
    )


def agent(
    id,
    load=0,
    capacity=3,
    status="online",
    languages=("de",),
    skills=None,
    team="care-de",
    channels=None,
):
    return AgentView(
        id=id,
        team=team,
        languages=frozenset(languages),
        skills=skills or {},
        channels=frozenset(channels or [c.value for c in ChannelKind]),
        capacity=capacity,
        load=load,
        status=status,
    )


NEED = Need(
    language="de", channel="public_comment", skill="billing", min_proficiency=2, team="care-de"
)


def test_least_loaded_online_agent_with_skill_and_capacity_wins():
    agents = [
        agent("a", load=2, skills={"billing": 3}),
        agent("b", load=1, skills={"billing": 2}),
        agent("c", load=0, skills={"billing": 1}),
        agent("d", load=0, status="away", skills={"billing": 5}),
        agent("e", load=3, skills={"billing": 5}),
    ]
    assert choose(agents, NEED).agent_id == "b"


def test_follow_up_sticks_to_its_agent_even_at_capacity_while_the_conversation_is_open():
    agents = [agent("a", load=3, skills={"billing": 3}), agent("b", skills={"billing": 3})]
    assert choose(agents, NEED, sticky="a", sticky_open=True).cause == "sticky"
    assert choose(agents, NEED, sticky="a", sticky_open=False).agent_id == "b"
    assert (
        choose(
            [agent("a", status="offline"), agent("b", skills={"billing": 3})], NEED, sticky="a"
        ).agent_id
        == "b"
    )


def test_relaxation_drops_requirements_step_by_step():
    steps = CONFIG.relax.steps
    only_novice = [agent("n", skills={"billing": 1})]
    only_english = [agent("x", languages=("en",), skills={}, team="care-en")]
    assert choose(only_novice, NEED) is None
    assert relax_level(timedelta(minutes=9), timedelta(minutes=10), steps) == 0
    assert relax_level(timedelta(minutes=10), timedelta(minutes=10), steps) == 1
    assert choose(only_novice, NEED, relaxed_steps(steps, 1)).cause == "relaxed"
    assert choose(only_english, NEED, relaxed_steps(steps, 4)) is None  # language still required
    assert choose(only_english, NEED, relaxed_steps(steps, 5)).agent_id == "x"
    assert relax_level(timedelta(hours=5), timedelta(minutes=10), steps) == len(steps)
    assert not eligible(
        agent("o", status="offline", skills={"billing": 5}), NEED, relaxed_steps(steps, 5)
    )


BAD = [
    (
        "rules:\n  - id: x\n    queue: nowhere\n",
        "rule 'x' (line 29): queue 'nowhere' is not a declared queue",
    ),
    (
        "rules:\n  - id: x\n    queue: support-de\n    match: {urgency: [panic]}\n",
        "rule 'x' (line 29): match.urgency.0",
    ),
    (
        "rules:\n  - id: x\n    queue: support-de\n  - id: x\n    queue: support-de\n",
        "rule 'x' (line 31): duplicate id",
    ),
    (
        "rules:\n  - id: x\n    queue: support-de\n    colour: red\n",
        "rule 'x' (line 29): colour: Extra inputs",
    ),
]


@pytest.mark.parametrize("rules,message", BAD)
def test_invalid_rules_are_refused_naming_rule_and_line(rules, message):
    head = (ROOT / "config" / "routing.yaml").read_text().split("rules:")[0]
    tail = "fallback_queue: support-default\n"
    text = head + rules + tail
    assert text.splitlines()[28].startswith("  - id: x")
    with pytest.raises(RoutingConfigError) as err:
        load_routing(text, "routing.yaml")
    assert message in str(err.value)


def test_missing_sla_and_unknown_fallback_are_refused():
    text = (ROOT / "config" / "routing.yaml").read_text()
    with pytest.raises(RoutingConfigError, match="sla.minutes.review.low"):
        load_routing(
            text.replace(
                "review: {high: 240, normal: 480, low: 960}", "review: {high: 240, normal: 480}"
            )
        )
    with pytest.raises(RoutingConfigError, match="fallback_queue 'nope'"):
        load_routing(text.replace("fallback_queue: support-default", "fallback_queue: nope"))
