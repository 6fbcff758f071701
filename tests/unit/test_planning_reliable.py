"""Staffing for a reliability (the target met in a share of intervals): the interval simulation
agrees with Erlang A under the formula's own assumptions, and the reliable staffing meets the
target in the share asked for, at more agents than the expected-level staffing."""

from __future__ import annotations

import numpy as np
import pytest

from services.router.planning.erlang import StaffingTarget, metrics_a, required_agents
from services.router.planning.errors import InfeasibleTarget
from services.router.planning.reliable import reliable_agents, simulate_interval

TARGET = StaffingTarget(sla_s=20, target=0.8, aht_s=180, patience_s=350)
RATE = 100 / 3600


def test_the_interval_simulation_agrees_with_erlang_a_on_its_own_assumptions():
    for agents in (5, 6, 8):
        sl, ab = simulate_interval(TARGET, RATE, agents, interval_s=3600, reps=600, seed=3)
        formula = metrics_a(
            rate=RATE, aht_s=180, patience_s=350, agents=agents, sla_s=20, concurrency=1
        )
        assert sl.mean() == pytest.approx(formula.service_level, abs=0.02)
        assert ab.mean() == pytest.approx(formula.abandonment, abs=0.01)


def test_reliable_staffing_meets_the_target_in_the_share_asked_for():
    mean_staffing = required_agents(TARGET, RATE)
    sure = reliable_agents(TARGET, RATE, reliability=0.95, interval_s=3600)
    assert sure.agents > mean_staffing.agents
    sl, _ = simulate_interval(TARGET, RATE, sure.agents, interval_s=3600, reps=1000, seed=99)
    assert np.mean(sl >= 0.8) >= 0.93  # fresh replications, a little Monte-Carlo slack
    sl, _ = simulate_interval(
        TARGET, RATE, mean_staffing.agents, interval_s=3600, reps=1000, seed=99
    )
    assert np.mean(sl >= 0.8) < 0.9, "staffed to the mean, an hour misses the target often"


def test_a_reliability_of_one_is_refused_with_a_reason():
    with pytest.raises(InfeasibleTarget, match="no staffing meets the target in every interval"):
        required_agents(StaffingTarget(sla_s=20, target=0.8, aht_s=180, reliability=1.0), RATE)
