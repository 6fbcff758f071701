"""Planning speed: a forecast and a staffing plan for 50 queues × 14 days at 30-minute intervals
(8 weeks of seeded synthetic history each: a daily and weekly shape, Poisson counts, a few
holidays), beside the seasonal-naive forecast of the same series measured in the same run.

Queues alternate between a call-like model (Erlang A, 80 % in 20 s) and an asynchronous one
(Erlang C, 3 conversations per agent, 80 % in 15 minutes, 30 % shrinkage, 85 % occupancy cap).
The issue's goal: the whole plan within a minute on this machine. ``BENCH_PLANNING_QUEUES``.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import numpy as np

from bench.report import row
from services.router.planning.erlang import StaffingTarget
from services.router.planning.forecast import Series
from services.router.planning.methods import seasonal_naive
from services.router.planning.service import answer, forecast_workloads

DAY, DAYS_AHEAD, HISTORY_WEEKS = 48, 14, 8


def _series(q: int, rng: np.random.Generator) -> Series:
    slots = np.arange(DAY)
    shape = np.exp(-(((slots - 24 - q % 5) / 7.0) ** 2))
    scale = 2 + 38 * rng.random()
    days = HISTORY_WEEKS * 7
    week = np.array([1, 1, 1, 1, 0.8, 0.35, 0.25])
    mean = np.concatenate([scale * shape * week[d % 7] * (1 + 0.002 * d) for d in range(days)])
    counts = rng.poisson(mean).astype(float)
    counts[10 * DAY : 11 * DAY] *= 0.1  # a holiday-like day
    return Series(datetime(2025, 1, 6, tzinfo=UTC), 1800, counts)


def _target(q: int, aht: float) -> StaffingTarget:
    if q % 2:
        return StaffingTarget(
            sla_s=900, target=0.8, aht_s=aht * 3, concurrency=3, shrinkage=0.3, max_occupancy=0.85
        )
    return StaffingTarget(sla_s=20, target=0.8, aht_s=aht, patience_s=300, shrinkage=0.3)


def plan_all(series: list[Series]) -> float:
    """Agent-hours over all queues (forecast + staffing), so the work cannot be skipped."""
    hours = 0.0
    for q, s in enumerate(series):
        fcs = forecast_workloads({"reply": s}, days=DAYS_AHEAD)
        target = _target(q, 180.0 + 10 * (q % 7))
        hours += answer(
            f"q{q}", forecasts=fcs, handling_s={"reply": target.aht_s}, target=target
        ).baseline.agent_hours
    return hours


async def measure(bootstrap: str) -> list[dict]:
    queues = int(os.environ.get("BENCH_PLANNING_QUEUES", "50"))
    rng = np.random.default_rng(17)
    series = [_series(q, rng) for q in range(queues)]
    started = time.perf_counter()
    for s in series:
        seasonal_naive(s.counts, DAY, DAYS_AHEAD * DAY)
    naive_s = time.perf_counter() - started
    naive_cpu = time.process_time()
    for s in series:
        seasonal_naive(s.counts, DAY, DAYS_AHEAD * DAY)
    naive_cpu = time.process_time() - naive_cpu
    started, cpu = time.perf_counter(), time.process_time()
    plan_all(series)
    plan_s, plan_cpu = time.perf_counter() - started, time.process_time() - cpu
    return [
        row(
            f"planning: {queues} queues x 14 d forecast + staffing",
            plan_s,
            "s",
            "seasonal-naive forecast, same series",
            naive_s,
        ),
        row(
            "planning: same, CPU time of the process",
            plan_cpu,
            "s",
            "seasonal-naive CPU time",
            naive_cpu,
        ),
        row("planning: goal 60 s for the whole plan", plan_s, "s", "goal", 60.0),
    ]
