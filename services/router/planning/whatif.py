"""What-if: the same forecast under changed assumptions (a campaign doubling the volume, a
stricter SLA, longer handling, more concurrency, other shrinkage) and the new requirement.
Pure: a ``Scenario`` maps the baseline's inputs to the scenario's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from services.router.planning.erlang import StaffingTarget
from services.router.planning.errors import PlanningError
from services.router.planning.plan import Workload


@dataclass(frozen=True)
class Scenario:
    """Changes to apply; ``None`` keeps the baseline. ``volume_factor`` 2.0 doubles the volume,
    only between ``window_start`` and ``window_end`` when given (the launch evening)."""

    volume_factor: float = 1.0
    window_start: datetime | None = None
    window_end: datetime | None = None
    aht_s: float | None = None
    sla_s: float | None = None
    target: float | None = None
    concurrency: int | None = None
    shrinkage: float | None = None
    max_occupancy: float | None = None
    patience_s: float | None = None
    reliability: float | None = None

    @property
    def is_baseline(self) -> bool:
        return self == Scenario()


def apply_target(scenario: Scenario, target: StaffingTarget) -> StaffingTarget:
    changes = {
        k: getattr(scenario, k)
        for k in (
            "aht_s",
            "sla_s",
            "target",
            "concurrency",
            "shrinkage",
            "max_occupancy",
            "patience_s",
            "reliability",
        )
        if getattr(scenario, k) is not None
    }
    return replace(target, **changes)


def apply_workloads(
    scenario: Scenario, workloads: list[Workload], *, start: datetime, interval_s: int
) -> list[Workload]:
    """Volumes scaled in the window; a handling-time override replaces every workload's."""
    if scenario.volume_factor < 0:
        raise PlanningError(f"volume factor {scenario.volume_factor} is negative")
    n = len(workloads[0].volume) if workloads else 0
    times = [start + timedelta(seconds=i * interval_s) for i in range(n)]
    inside = np.array(
        [
            (scenario.window_start is None or t >= scenario.window_start)
            and (scenario.window_end is None or t < scenario.window_end)
            for t in times
        ],
        bool,
    )
    factor = np.where(inside, scenario.volume_factor, 1.0)
    return [Workload(w.name, w.volume * factor, scenario.aht_s or w.aht_s) for w in workloads]
