"""The SimPy replay agrees with the formulas under their own assumptions (Poisson arrivals,
exponential handling and patience), concurrency included. Seeded: deterministic, not timed."""

from __future__ import annotations

import math
import random

import pytest

from services.router.planning.erlang import metrics_a, metrics_c
from services.router.planning.simulation import Arrival, replay

HOURS = 120


def _arrivals(seed: int, rate: float, aht: float, patience: float = math.inf) -> list[Arrival]:
    rng, t, out = random.Random(seed), 0.0, []
    while True:
        t += rng.expovariate(rate)
        if t >= HOURS * 3600:
            return out
        out.append(
            Arrival(
                t,
                rng.expovariate(1 / aht),
                rng.expovariate(1 / patience) if math.isfinite(patience) else math.inf,
            )
        )


def test_replay_matches_erlang_c_with_concurrency():
    rate, aht = 200 / 3600, 540.0  # 30 Erlangs of conversations, 3 per agent
    predicted = metrics_c(rate=rate, aht_s=aht, agents=12, sla_s=120, concurrency=3)
    got = replay(
        _arrivals(5, rate, aht), staffing=[12] * HOURS, interval_s=3600, sla_s=120, concurrency=3
    )
    assert got.service_level == pytest.approx(predicted.service_level, abs=0.04)
    assert got.mean_wait_s == pytest.approx(predicted.mean_wait_s, rel=0.35)


def test_replay_matches_erlang_a():
    rate, aht = 200 / 3600, 180.0
    predicted = metrics_a(rate=rate, aht_s=aht, patience_s=348, agents=11, sla_s=20)
    got = replay(_arrivals(6, rate, aht, 348), staffing=[11] * HOURS, interval_s=3600, sla_s=20)
    assert got.service_level == pytest.approx(predicted.service_level, abs=0.04)
    assert got.abandonment == pytest.approx(predicted.abandonment, abs=0.015)


def test_nobody_on_shift_means_everyone_with_patience_gives_up():
    calls = [Arrival(10.0 * i, 60.0, 30.0) for i in range(50)]
    got = replay(calls, staffing=[0, 0], interval_s=3600, sla_s=20)
    assert got.abandonment == 1.0 and got.service_level == 0.0 and got.agent_hours == 0


def test_agents_finish_what_they_hold_when_staffing_drops():
    calls = [Arrival(0.0, 5000.0), Arrival(3700.0, 10.0, 200.0)]
    got = replay(calls, staffing=[1, 0], interval_s=3600, sla_s=20)
    # the long call ends at 5000 s; the second call arrives in an unstaffed hour and gives up
    assert got.intervals[0].answered_within == 1 and got.intervals[1].abandoned == 1
    assert got.agent_hours == 1.0
