"""Staffing per interval from a volume forecast: the requirement each interval of a queue needs
to meet its target, and the totals a lead reads (peak, agent-hours).

A queue may carry several workloads (reply-needed items, tag-only items), each with its own
handling time; an interval's load is their sum and its handling time their volume-weighted mean.
Pure: arrays and a ``StaffingTarget`` in, rows out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from services.router.planning.erlang import StaffingTarget, required_agents, scheduled
from services.router.planning.errors import MissingHandlingTime
from services.router.planning.reliable import reliable_agents


@dataclass(frozen=True)
class Workload:
    """One stream of work into a queue: volume per interval and its mean handling time."""

    name: str
    volume: np.ndarray
    aht_s: float | None


@dataclass(frozen=True)
class IntervalRequirement:
    start: datetime
    volume: float
    load_erlangs: float
    agents: int  # on the floor, answering
    scheduled: int  # to schedule, after shrinkage
    service_level: float
    abandonment: float
    occupancy: float


@dataclass(frozen=True)
class StaffingPlan:
    queue: str
    interval_s: int
    target: StaffingTarget
    rows: tuple[IntervalRequirement, ...]

    @property
    def agent_hours(self) -> float:
        return sum(r.scheduled for r in self.rows) * self.interval_s / 3600

    @property
    def peak(self) -> int:
        return max((r.scheduled for r in self.rows), default=0)


def combined(workloads: Sequence[Workload], queue: str) -> tuple[np.ndarray, np.ndarray]:
    """(volume, handling time) per interval over all workloads. Raises ``MissingHandlingTime``
    naming the workload that has volume but no handling time."""
    for w in workloads:
        if (w.aht_s is None or w.aht_s <= 0) and float(np.sum(w.volume)) > 0:
            raise MissingHandlingTime(
                f"queue {queue!r}: {float(np.sum(w.volume)):.0f} {w.name} items forecast but no handling time; "
                "record handling times in the helpdesk (lifecycle 'resolved' events) or pass aht_s"
            )
    volume = np.sum([w.volume for w in workloads], axis=0)
    work = np.sum([w.volume * (w.aht_s or 0.0) for w in workloads], axis=0)
    aht = np.divide(work, volume, out=np.zeros_like(volume, dtype=float), where=volume > 0)
    return volume, aht


def staff(
    queue: str,
    *,
    start: datetime,
    interval_s: int,
    workloads: Sequence[Workload],
    target: StaffingTarget,
    handling: np.ndarray | None = None,
) -> StaffingPlan:
    """The requirement per interval. Raises ``MissingHandlingTime`` or ``InfeasibleTarget``.

    With ``target.reliability`` each interval is staffed so a simulation meets the target in
    that share of its replications (``reliable.py``), drawing handling times from ``handling``
    (the queue's recorded ones, rescaled to the interval's mean) or exponential ones."""
    target.check()
    volume, aht = combined(workloads, queue)
    rows = []
    cache: dict[tuple[float, float], tuple] = {}
    for i, (v, a) in enumerate(zip(volume, aht, strict=True)):
        key = (round(float(v), 2), round(float(a), 1))
        if key not in cache:
            t = StaffingTarget(**{**target.__dict__, "aht_s": a if a > 0 else target.aht_s})
            m = (
                reliable_agents(
                    t,
                    v / interval_s,
                    reliability=target.reliability,
                    interval_s=interval_s,
                    handling=handling,
                )
                if target.reliability
                else required_agents(t, v / interval_s)
            )
            cache[key] = (m, v * a / interval_s)
        m, load = cache[key]
        rows.append(
            IntervalRequirement(
                start + timedelta(seconds=i * interval_s),
                float(v),
                load,
                m.agents,
                scheduled(m.agents, target.shrinkage),
                m.service_level,
                m.abandonment,
                m.occupancy,
            )
        )
    return StaffingPlan(queue, interval_s, target, tuple(rows))
