"""Staffing that meets the target in a chosen share of intervals, not only on average.

Erlang C/A give the *expected* service level of an interval; a single interval's achieved level
scatters around it (a few long calls or a burst of arrivals), by ±10 points an hour at 100 calls
an hour. Staffed to the mean, an interval misses the target about as often as it meets it near
the line. ``reliable_agents`` raises the Erlang figure until a Monte-Carlo simulation of the
interval meets the target in ``reliability`` of its replications: Poisson arrivals at the
forecast rate, handling times drawn from the queue's own recorded ones (or exponential, the
formula's assumption, when none are given), exponential patience, and a warm-up half interval
at the same rate so the interval does not start empty.

The simulation is first-come-first-served over ``agents × concurrency`` slots: each contact takes
the slot that frees first, or gives up when that comes later than its patience (exact for FCFS).
Pure: numpy and a seeded generator; the same inputs give the same answer.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from services.router.planning.erlang import Metrics, StaffingTarget, required_agents

REPLICATIONS = 400
MAX_EXTRA = 200  # agents above the Erlang figure before giving up


def simulate_interval(
    target: StaffingTarget,
    rate: float,
    agents: int,
    *,
    interval_s: float,
    handling: np.ndarray | None = None,
    reps: int = REPLICATIONS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(service level, abandonment share) of each replication of one interval."""
    rng = np.random.default_rng(seed)
    warm = interval_s / 2
    counts = rng.poisson(rate * (interval_s + warm), reps)
    m = int(counts.max(initial=0))
    valid = np.arange(m)[None, :] < counts[:, None]
    times = np.sort(np.where(valid, rng.uniform(0, interval_s + warm, (reps, m)), np.inf), axis=1)
    if handling is not None and len(handling):
        sample = np.asarray(handling, float)
        work = rng.choice(sample * (target.aht_s / sample.mean()), size=(reps, m))
    else:
        work = rng.exponential(target.aht_s, (reps, m))
    patience = (
        rng.exponential(target.patience_s, (reps, m))
        if target.patience_s
        else np.full((reps, m), np.inf)
    )
    slots = agents * target.concurrency
    within, abandoned, seen = np.zeros(reps), np.zeros(reps), np.zeros(reps)
    free = np.zeros((reps, max(1, slots))) if slots else np.full((reps, 1), np.inf)
    rows = np.arange(reps)
    for k in range(m):
        t, ok = times[:, k], valid[:, k]
        j = free.argmin(axis=1)
        wait = np.maximum(0.0, free[rows, j] - t)
        served = ok & (wait <= patience[:, k])
        free[rows[served], j[served]] = (t + wait + work[:, k])[served]
        measured = ok & (t >= warm)
        seen += measured
        within += measured & served & (wait <= target.sla_s)
        abandoned += measured & ~served
    n = np.maximum(seen, 1)
    return np.where(seen > 0, within / n, 1.0), abandoned / n


def reliable_agents(
    target: StaffingTarget,
    rate: float,
    *,
    reliability: float,
    interval_s: float,
    handling: np.ndarray | None = None,
    reps: int = REPLICATIONS,
    seed: int = 0,
) -> Metrics:
    """Fewest agents (from the Erlang figure up) whose simulated interval meets ``target.target``
    in at least ``reliability`` of the replications. The metrics returned are the simulation's
    means. Raises ``InfeasibleTarget`` as ``required_agents`` does, or ``ValueError`` for a
    reliability outside (0, 1)."""
    if not 0 < reliability < 1:
        raise ValueError(f"reliability {reliability} must be a share between 0 and 1, e.g. 0.95")
    base = required_agents(target, rate)
    if rate <= 0:
        return base
    for agents in range(base.agents, base.agents + MAX_EXTRA + 1):
        sl, ab = simulate_interval(
            target, rate, agents, interval_s=interval_s, handling=handling, reps=reps, seed=seed
        )
        if np.mean(sl >= target.target) >= reliability:
            break
    busy = rate * (1 - float(ab.mean())) * target.aht_s / (agents * target.concurrency)
    return Metrics(agents, float(sl.mean()), float(ab.mean()), math.nan, busy)


def with_reliability(target: StaffingTarget, reliability: float | None) -> StaffingTarget:
    """``target`` with ``reliability`` set (None keeps staffing to the mean)."""
    return replace(target, reliability=reliability)
