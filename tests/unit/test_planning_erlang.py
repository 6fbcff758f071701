"""Erlang C against textbook values, Erlang A against C and its own identities, staffing rules."""

from __future__ import annotations

import math

import pytest

from services.router.planning.erlang import (
    StaffingTarget,
    erlang_b,
    erlang_c,
    metrics_a,
    metrics_c,
    required_agents,
    scheduled,
)
from services.router.planning.errors import InfeasibleTarget

RATE = 100 / 1800  # 100 calls per half hour
AHT = 180.0  # 10 Erlangs


@pytest.mark.parametrize(
    ("servers", "expected"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741)]
)
def test_erlang_c_textbook_wait_probability(servers, expected):
    # the classic 10-Erlang example (100 calls / 30 min, AHT 3 min)
    assert erlang_c(servers, 10.0) == pytest.approx(expected, abs=1e-4)


def test_erlang_b_known_value():
    assert erlang_b(10, 10.0) == pytest.approx(0.2146, abs=1e-4)


def test_service_level_and_requirement_of_the_textbook_example():
    assert metrics_c(rate=RATE, aht_s=AHT, agents=13, sla_s=20).service_level == pytest.approx(
        0.7956, abs=1e-3
    )
    assert metrics_c(rate=RATE, aht_s=AHT, agents=14, sla_s=20).service_level == pytest.approx(
        0.8884, abs=1e-3
    )
    assert required_agents(StaffingTarget(sla_s=20, target=0.8, aht_s=AHT), RATE).agents == 14


def test_erlang_a_tends_to_erlang_c_when_nobody_gives_up():
    a = metrics_a(rate=RATE, aht_s=AHT, patience_s=1e8, agents=14, sla_s=20)
    c = metrics_c(rate=RATE, aht_s=AHT, agents=14, sla_s=20)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-4)
    assert a.mean_wait_s == pytest.approx(c.mean_wait_s, rel=1e-3)


def test_erlang_a_abandonment_is_mean_wait_over_patience():
    # P(Ab) = E[W] / mean patience holds exactly in M/M/n+M (Mandelbaum & Zeltyn 2007)
    for n in (8, 10, 12):
        m = metrics_a(rate=RATE, aht_s=AHT, patience_s=348, agents=n, sla_s=20)
        assert m.abandonment == pytest.approx(m.mean_wait_s / 348, rel=1e-3)


def test_erlang_a_needs_no_more_agents_than_c_and_is_monotone():
    c = required_agents(StaffingTarget(sla_s=20, target=0.8, aht_s=AHT), RATE).agents
    a = required_agents(StaffingTarget(sla_s=20, target=0.8, aht_s=AHT, patience_s=348), RATE)
    assert a.agents <= c and a.service_level >= 0.8
    levels = [
        metrics_a(rate=RATE, aht_s=AHT, patience_s=348, agents=n, sla_s=20).service_level
        for n in range(5, 20)
    ]
    assert levels == sorted(levels)


def test_erlang_a_stays_finite_when_overloaded():
    m = metrics_a(
        rate=RATE, aht_s=AHT, patience_s=120, agents=5, sla_s=20
    )  # 10 Erlangs on 5 agents
    assert 0.4 < m.abandonment < 1 and m.occupancy <= 1


def test_concurrency_multiplies_slots():
    one = metrics_c(rate=RATE, aht_s=3 * AHT, agents=10, sla_s=600, concurrency=3)
    slots = metrics_c(rate=RATE, aht_s=3 * AHT, agents=30, sla_s=600)
    assert one.service_level == pytest.approx(slots.service_level)


def test_shrinkage_and_occupancy_cap():
    assert scheduled(14, 0.3) == 20
    assert scheduled(0, 0.3) == 0
    capped = required_agents(
        StaffingTarget(sla_s=20, target=0.8, aht_s=AHT, max_occupancy=0.6), RATE
    )
    assert capped.agents == math.ceil(10 / 0.6) and capped.occupancy <= 0.6


def test_nothing_arriving_needs_nobody():
    assert required_agents(StaffingTarget(sla_s=20, target=0.8, aht_s=AHT), 0.0).agents == 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"target": 1.0}, "never answer 100 %"),
        ({"sla_s": -1}, "negative"),
        ({"aht_s": 0}, "handling time"),
        ({"concurrency": 0}, "concurrency"),
        ({"shrinkage": 1.0}, "shrinkage"),
    ],
)
def test_impossible_targets_say_why(kwargs, words):
    target = StaffingTarget(**{"sla_s": 20, "target": 0.8, "aht_s": AHT, **kwargs})
    with pytest.raises(InfeasibleTarget, match=words):
        required_agents(target, RATE)
