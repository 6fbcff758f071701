"""Discrete-event replay (SimPy): real arrivals and handling times against a staffing plan.

Every staffing figure can be checked here: calls (or conversations) arrive at their recorded
times, wait first-come-first-served for a free slot (``agents × concurrency`` slots in the
current interval), give up when their patience runs out, and hold a slot for their recorded
handling time. When the plan lowers the staffing, agents finish what they hold and take nothing
new until the busy slots fit. The replay measures what the models predict: the share of arrivals
answered within the target time, the share that abandoned, the mean wait, and agent-hours.

Pure: simulated time only, no clock, no I/O. Deterministic for the same inputs.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import simpy


@dataclass(frozen=True)
class Arrival:
    """One contact: arrival time and handling time in seconds; patience ``inf`` = never gives up."""

    at_s: float
    handle_s: float
    patience_s: float = math.inf


@dataclass(frozen=True)
class IntervalOutcome:
    start_s: float
    agents: int
    arrivals: int
    answered_within: int
    abandoned: int
    wait_s_total: float

    @property
    def service_level(self) -> float | None:
        return self.answered_within / self.arrivals if self.arrivals else None


@dataclass(frozen=True)
class Replay:
    intervals: tuple[IntervalOutcome, ...]
    agent_hours: float

    def _sum(self, field: str) -> float:
        return sum(getattr(i, field) for i in self.intervals)

    @property
    def arrivals(self) -> int:
        return int(self._sum("arrivals"))

    @property
    def service_level(self) -> float:
        return self._sum("answered_within") / max(1, self.arrivals)

    @property
    def abandonment(self) -> float:
        return self._sum("abandoned") / max(1, self.arrivals)

    @property
    def mean_wait_s(self) -> float:
        return self._sum("wait_s_total") / max(1, self.arrivals)


class _Floor:
    """The slots and the FCFS queue; ``dispatch`` hands free slots to the head of the queue."""

    def __init__(self, env: simpy.Environment, concurrency: int) -> None:
        self.env, self.concurrency = env, concurrency
        self.capacity, self.busy = 0, 0
        self.waiting: deque[simpy.Event] = deque()

    def set_agents(self, agents: int) -> None:
        self.capacity = agents * self.concurrency
        self.dispatch()

    def dispatch(self) -> None:
        while self.waiting and self.busy < self.capacity:
            granted = self.waiting.popleft()
            if not granted.triggered:
                self.busy += 1
                granted.succeed()


def replay(
    arrivals: Sequence[Arrival],
    *,
    staffing: Sequence[int],
    interval_s: float,
    sla_s: float,
    concurrency: int = 1,
    start_s: float = 0.0,
) -> Replay:
    """Replay ``arrivals`` (sorted by time) against ``staffing[i]`` agents in interval ``i``
    (from ``start_s``, ``interval_s`` long). Arrivals after the plan's end meet its last value."""
    env = simpy.Environment(initial_time=start_s)
    floor = _Floor(env, concurrency)
    n = len(staffing)
    stats = [[0, 0, 0, 0.0] for _ in range(n)]  # arrivals, answered within, abandoned, wait

    def index(t: float) -> int:
        return min(n - 1, max(0, int((t - start_s) // interval_s)))

    def plan():
        for agents in staffing:
            floor.set_agents(int(agents))
            yield env.timeout(interval_s)

    def contact(a: Arrival):
        row = stats[index(a.at_s)]
        row[0] += 1
        granted = env.event()
        floor.waiting.append(granted)
        floor.dispatch()
        if not granted.triggered:
            timeout = env.timeout(a.patience_s) if math.isfinite(a.patience_s) else None
            yield (granted | timeout) if timeout is not None else granted
        wait = env.now - a.at_s
        row[3] += wait
        if not granted.triggered:  # patience ran out first; the stale event is skipped by dispatch
            granted.fail(_GaveUp())
            granted.defused = True
            row[2] += 1
            return
        if wait <= sla_s + 1e-9:
            row[1] += 1
        yield env.timeout(a.handle_s)
        floor.busy -= 1
        floor.dispatch()

    def source():
        for a in arrivals:
            if a.at_s > env.now:
                yield env.timeout(a.at_s - env.now)
            env.process(contact(a))

    env.process(plan())
    env.process(source())
    env.run()
    outcomes = tuple(
        IntervalOutcome(start_s + i * interval_s, int(staffing[i]), *map_row(stats[i]))
        for i in range(n)
    )
    return Replay(outcomes, sum(staffing) * interval_s / 3600)


class _GaveUp(Exception):
    pass


def map_row(row: list) -> tuple[int, int, int, float]:
    return int(row[0]), int(row[1]), int(row[2]), float(row[3])
