"""Requirement per interval, what-if, the roster against the requirement, missing inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from services.router.planning.erlang import StaffingTarget
from services.router.planning.errors import MissingHandlingTime, PlanningError
from services.router.planning.plan import Workload, staff
from services.router.planning.shifts import gaps, parse_roster, scheduled_per_interval
from services.router.planning.whatif import Scenario, apply_target, apply_workloads

START = datetime(2025, 3, 3, tzinfo=UTC)  # Monday
TARGET = StaffingTarget(sla_s=900, target=0.8, aht_s=600, concurrency=2, shrinkage=0.25)


def test_more_volume_needs_more_agents_and_shrinkage_adds_on_top():
    plan = staff(
        "q",
        start=START,
        interval_s=1800,
        workloads=[Workload("reply", np.array([0, 10, 40.0]), 600)],
        target=TARGET,
    )
    agents = [r.agents for r in plan.rows]
    assert agents[0] == 0 and agents[1] < agents[2]
    assert all(r.scheduled >= r.agents for r in plan.rows)
    assert plan.agent_hours == pytest.approx(sum(r.scheduled for r in plan.rows) / 2)


def test_tag_only_work_adds_its_own_handling_time():
    reply = Workload("reply", np.array([20.0]), 600)
    both = staff(
        "q",
        start=START,
        interval_s=1800,
        workloads=[reply, Workload("tag-only", np.array([200.0]), 30)],
        target=TARGET,
    )
    alone = staff("q", start=START, interval_s=1800, workloads=[reply], target=TARGET)
    assert both.rows[0].load_erlangs > alone.rows[0].load_erlangs
    assert both.rows[0].agents >= alone.rows[0].agents


def test_a_queue_without_handling_time_is_named():
    with pytest.raises(
        MissingHandlingTime, match="'support-de'.*reply items forecast but no handling time"
    ):
        staff(
            "support-de",
            start=START,
            interval_s=1800,
            workloads=[Workload("reply", np.array([5.0]), None)],
            target=TARGET,
        )


def test_what_if_doubles_the_volume_only_in_its_window():
    w = [Workload("reply", np.full(8, 20.0), 600)]
    s = Scenario(
        volume_factor=2.0,
        window_start=START + timedelta(hours=2),
        window_end=START + timedelta(hours=3),
    )
    changed = apply_workloads(s, w, start=START, interval_s=1800)[0].volume
    assert list(changed) == [20, 20, 20, 20, 40, 40, 20, 20]
    assert apply_target(Scenario(sla_s=60, concurrency=3), TARGET).concurrency == 3
    with pytest.raises(PlanningError, match="negative"):
        apply_workloads(Scenario(volume_factor=-1), w, start=START, interval_s=1800)


ROSTER = {
    "team": "de",
    "timezone": "Europe/Berlin",
    "pattern": [{"days": "mon-fri", "from": "08:00", "to": "12:00", "agents": 2}],
    "exceptions": [
        {"date": "2025-03-03", "from": "10:00", "to": "12:00", "agents": -1, "reason": "training"}
    ],
}


def test_roster_counts_whole_intervals_in_its_time_zone_with_exceptions():
    r = parse_roster(ROSTER)
    on = scheduled_per_interval(
        r, start=START, intervals=48, interval_s=1800
    )  # UTC day; Berlin is UTC+1
    assert (
        on[13] == 0 and on[14] == 2 and on[18] == 1 and on[22] == 0
    )  # 07:00, 08:00, 10:00, 12:00 Berlin
    found = gaps([3] * 48, on, start=START, interval_s=1800)
    assert found[0].short == 3 and len(found) == 48


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"pattern": [{"days": "someday", "from": "08:00", "to": "12:00"}]}, "mon..sun"),
        ({"pattern": [{"days": "mon", "from": "8h", "to": "12:00"}]}, "HH:MM"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
    ],
)
def test_bad_rosters_say_what_is_wrong(bad, words):
    with pytest.raises(PlanningError, match=words):
        parse_roster({**ROSTER, **bad})


def test_tag_only_work_at_zero_seconds_is_left_out_and_channels_are_not_staffed():
    from services.router.planning.forecast import Forecast
    from services.router.planning.service import answer

    def fc(level: float) -> Forecast:
        flat = np.full(4, level)
        return Forecast(START, 1800, flat, flat, flat, "test")

    forecasts = {"reply": fc(20), "tag-only": fc(200), "channel:mention": fc(20)}
    target = StaffingTarget(sla_s=900, target=0.8, aht_s=600)
    counted = answer(
        "q", forecasts=forecasts, handling_s={"reply": 600, "tag-only": 30}, target=target
    )
    left_out = answer(
        "q", forecasts=forecasts, handling_s={"reply": 600, "tag-only": 0}, target=target
    )
    reply_only = answer("q", forecasts={"reply": fc(20)}, handling_s={"reply": 600}, target=target)
    assert left_out.baseline.rows == reply_only.baseline.rows, "channels split reply, not added"
    assert counted.baseline.rows[0].volume == 220 and counted.baseline.agent_hours > (
        left_out.baseline.agent_hours
    )
    with pytest.raises(MissingHandlingTime, match="tag-only items forecast but no handling time"):
        answer("q", forecasts=forecasts, handling_s={"reply": 600}, target=target)
