"""Pure parts of the notifier: rotations (layers, overrides, DST), escalation, signed links,
and when to page (office hours, public holidays, daylight-saving changes)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.notifier import escalation as esc
from services.notifier import links, oncall, planner
from shared import schemagen
from shared.calendar_config import calendar_from
from shared.events import Urgency

BERLIN = "Europe/Berlin"
START = datetime.fromisoformat("2026-01-05T09:00:00+01:00")  # a Monday, 09:00 Berlin
WEEKLY = oncall.Layer(people=("alice", "bob"), handoff="weekly", start=START)
WEEKEND = oncall.Layer(people=("dave",), handoff="daily", start=START, days=("sat", "sun"))
POLICY = oncall.Policy(
    steps=(
        oncall.Step(notify=("rotation:primary",), wait_minutes=15),
        oncall.Step(notify=("rotation:secondary",), wait_minutes=10),
    ),
    repeat=1,
    ack_timeout_minutes=60,
)
CALENDAR = calendar_from({"timezone": BERLIN, "holidays": {"country": "DE", "subdivision": "BE"}})


def test_weekly_rotation_hands_off_at_local_nine_even_across_dst():
    rot = oncall.Rotation(layers=(WEEKLY,))
    assert oncall.on_call(rot, START + timedelta(days=6), BERLIN) == "alice"
    assert oncall.on_call(rot, START + timedelta(days=7), BERLIN) == "bob"
    # 2026-03-30 is a Monday after the switch to summer time: hand-off at 09:00 CEST = 07:00 UTC
    assert oncall.on_call(rot, datetime(2026, 3, 30, 6, 59, tzinfo=UTC), BERLIN) != oncall.on_call(
        rot, datetime(2026, 3, 30, 7, 0, tzinfo=UTC), BERLIN
    )


def test_higher_layer_wins_on_its_days_and_an_override_wins_over_all():
    override = oncall.Override(
        person="erin",
        start=datetime(2026, 1, 7, 12, tzinfo=UTC),
        end=datetime(2026, 1, 7, 18, tzinfo=UTC),
    )
    rot = oncall.Rotation(layers=(WEEKLY, WEEKEND), overrides=(override,))
    assert oncall.on_call(rot, datetime(2026, 1, 10, 12, tzinfo=UTC), BERLIN) == "dave"  # Saturday
    assert oncall.on_call(rot, datetime(2026, 1, 7, 11, tzinfo=UTC), BERLIN) == "alice"
    assert oncall.on_call(rot, datetime(2026, 1, 7, 13, tzinfo=UTC), BERLIN) == "erin"


def test_shifts_merge_consecutive_hours_of_one_person():
    rot = oncall.Rotation(layers=(WEEKLY,))
    got = oncall.shifts(rot, START, START + timedelta(days=14), BERLIN)
    assert [(p, b, e) for p, b, e in got] == [
        ("alice", START, START + timedelta(days=7)),
        ("bob", START + timedelta(days=7), START + timedelta(days=14)),
    ]


def test_config_refuses_unknown_references(tmp_path):
    path = tmp_path / "oncall.yaml"
    path.write_text("default_team: x\npeople: {}\ntargets: {}\nteams: {}\n")
    with pytest.raises(oncall.OncallError, match="unknown x"):
        oncall.load(path)


def test_escalation_steps_wait_repeat_then_stop():
    now = START
    state = esc.opened(POLICY, now)
    state = esc.after_step(POLICY, state, now, reached=True)
    assert (state.step, state.next_at) == (1, now + timedelta(minutes=15))
    state = esc.after_step(POLICY, state, state.next_at, reached=True)
    assert (state.step, state.round, state.passes_left) == (0, 1, 0)
    state = esc.after_step(POLICY, esc.after_step(POLICY, state, now, True), now, True)
    assert state.next_at is None and state.status == esc.TRIGGERED


def test_unreached_step_falls_through_at_once_and_ack_times_out_into_a_new_round():
    state = esc.after_step(POLICY, esc.opened(POLICY, START), START, reached=False)
    assert state.step == 1 and state.next_at == START
    acked = esc.acknowledged(POLICY, state, START)
    assert acked.status == esc.ACKNOWLEDGED and acked.next_at == START + timedelta(minutes=60)
    again = esc.retriggered(POLICY, acked, acked.next_at)
    assert (again.status, again.step, again.round) == (esc.TRIGGERED, 0, acked.round + 1)
    assert esc.resolved(again).next_at is None


def test_signed_link_accepts_its_own_and_refuses_wrong_or_expired():
    url = links.link("http://n", "k", "ack", "inc-1", "alice", START, timedelta(hours=1))
    query = dict(p.split("=") for p in url.split("?")[1].split("&"))
    exp, sig = int(query["exp"]), query["sig"]
    links.verify("k", "ack", "inc-1", "alice", exp, sig, START)
    with pytest.raises(links.LinkRefused, match="bad signature"):
        links.verify("k", "resolve", "inc-1", "alice", exp, sig, START)
    with pytest.raises(links.LinkRefused, match="bad signature"):
        links.verify("other-key", "ack", "inc-1", "alice", exp, sig, START)
    with pytest.raises(links.LinkRefused, match="expired"):
        links.verify("k", "ack", "inc-1", "alice", exp, sig, START + timedelta(hours=1))


def test_non_ascii_signature_or_feed_key_is_refused_not_a_crash():
    with pytest.raises(links.LinkRefused, match="bad signature"):
        links.verify("k", "ack", "inc-1", "alice", 2**40, "sïg", START)
    with pytest.raises(links.LinkRefused, match="bad feed key"):
        links.verify_feed("k", "support", "kéy")


def routed(urgency: Urgency):
    event = schemagen.example_events()[2]
    cls = event.data.classification.model_copy(update={"urgency": urgency})
    return event.model_copy(update={"data": event.data.model_copy(update={"classification": cls})})


@pytest.mark.parametrize(
    "when, urgency, expected",
    [
        (
            datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
            Urgency.HIGH,
            None,
        ),  # Monday 11:00 Berlin: open
        (datetime(2026, 11, 22, 22, 0, tzinfo=UTC), Urgency.HIGH, "page"),  # Sunday night
        (datetime(2026, 11, 22, 22, 0, tzinfo=UTC), Urgency.NORMAL, "digest"),
        (
            datetime(2026, 12, 25, 10, 0, tzinfo=UTC),
            Urgency.HIGH,
            "page",
        ),  # Christmas Day, a Friday
        (datetime(2026, 10, 19, 7, 30, tzinfo=UTC), Urgency.HIGH, None),  # 09:30 CEST: open
        (
            datetime(2026, 10, 26, 7, 30, tzinfo=UTC),
            Urgency.HIGH,
            "page",
        ),  # 08:30 CET after the DST change
    ],
)
def test_triage_by_the_shared_calendar(when, urgency, expected):
    decided = planner.triage(routed(urgency), CALENDAR, when, Urgency.HIGH)
    assert (decided.action if decided else None) == expected


def test_holiday_page_says_why_and_sla_timers_bracket_the_deadline():
    decided = planner.triage(
        routed(Urgency.HIGH), CALENDAR, datetime(2026, 12, 25, 10, tzinfo=UTC), Urgency.HIGH
    )
    assert decided.reason.startswith("public holiday")
    event = routed(Urgency.NORMAL)
    timers = planner.sla_timers(event, timedelta(minutes=5), Urgency.NORMAL)
    deadline = event.data.routing.sla_deadline
    assert timers == [("sla-warning", deadline - timedelta(minutes=5)), ("sla-breach", deadline)]
    assert planner.sla_timers(routed(Urgency.LOW), timedelta(minutes=5), Urgency.NORMAL) == []
