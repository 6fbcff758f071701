"""One queue's answer, shared by the CLI and the HTTP router: forecast each workload, staff the
window asked for (with a what-if beside the baseline), count the roster against it.

Pure: series, handling times and targets in; a ``QueueAnswer`` out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from services.router.planning.erlang import StaffingTarget
from services.router.planning.errors import PlanningError
from services.router.planning.forecast import (
    Forecast,
    Options,
    Series,
    day_mask,
    forecast,
)
from services.router.planning.plan import StaffingPlan, Workload, staff
from services.router.planning.shifts import Roster, gaps, scheduled_per_interval
from services.router.planning.whatif import Scenario, apply_target, apply_workloads

MAX_HORIZON_DAYS = 14
CHANNEL = "channel:"  # prefix of per-channel series: a breakdown of the reply workload, not staffed


def workloads_of(forecasts: Mapping[str, Forecast]) -> dict[str, Forecast]:
    """The forecasts that are workloads (``reply``, ``tag-only``), without the channel breakdown."""
    return {k: f for k, f in forecasts.items() if not k.startswith(CHANNEL)}


@dataclass(frozen=True)
class QueueAnswer:
    queue: str
    forecasts: dict[str, Forecast]
    baseline: StaffingPlan
    scenario: StaffingPlan | None
    rostered: np.ndarray | None  # agents on shift per interval of the window

    def gaps(self):
        plan = self.scenario or self.baseline
        if self.rostered is None:
            return []
        return (
            gaps(
                [r.scheduled for r in plan.rows],
                self.rostered,
                start=plan.rows[0].start,
                interval_s=plan.interval_s,
            )
            if plan.rows
            else []
        )


def forecast_workloads(
    series: Mapping[str, Series],
    *,
    days: int,
    options: Options = Options(),
    is_special: Callable[[date], bool] | None = None,
) -> dict[str, Forecast]:
    """Each workload's forecast ``days`` ahead. Raises ``PlanningError`` with what is missing."""
    if not 1 <= days <= MAX_HORIZON_DAYS:
        raise PlanningError(f"forecast horizon of {days} days: choose 1 to {MAX_HORIZON_DAYS}")
    out = {}
    for name, s in series.items():
        horizon = days * s.per_day
        hist = day_mask(s.start, len(s.counts), s.interval_s, is_special)
        future = day_mask(s.time(len(s.counts)), horizon, s.interval_s, is_special)
        out[name] = forecast(s, horizon, masked_days=hist, special_future=future, options=options)
    return out


def window(
    forecasts: Mapping[str, Forecast], start: datetime | None, end: datetime | None
) -> slice:
    """The slice of the forecast horizon covering [start, end); the whole horizon by default."""
    f = next(iter(forecasts.values()))
    first = 0 if start is None else int((start - f.start).total_seconds() // f.interval_s)
    last = len(f.mean) if end is None else int(-(-(end - f.start).total_seconds() // f.interval_s))
    if first < 0 or last > len(f.mean) or first >= last:
        raise PlanningError(
            f"window {start} – {end} is outside the forecast, which covers "
            f"{f.start.isoformat()} – {(f.start + timedelta(seconds=len(f.mean) * f.interval_s)).isoformat()}"
        )
    return slice(first, last)


def answer(
    queue: str,
    *,
    forecasts: Mapping[str, Forecast],
    handling_s: Mapping[str, float | None],
    target: StaffingTarget,
    scenario: Scenario = Scenario(),
    start: datetime | None = None,
    end: datetime | None = None,
    roster: Roster | None = None,
    handling_sample: np.ndarray | None = None,
) -> QueueAnswer:
    """Staffing for [start, end) of the forecasts, baseline and (when not the baseline) scenario.
    Channel series are left out (they split the reply workload); a workload whose handling time
    is 0 is not staffed (e.g. tag-only work a team does not handle by hand)."""
    forecasts = {k: f for k, f in workloads_of(forecasts).items() if handling_s.get(k, None) != 0}
    if not forecasts:
        raise PlanningError(f"queue {queue!r} has no workload to forecast")
    part = window(forecasts, start, end)
    f0 = next(iter(forecasts.values()))
    begin = f0.start + timedelta(seconds=part.start * f0.interval_s)
    workloads = [
        Workload(name, f.mean[part], handling_s.get(name)) for name, f in forecasts.items()
    ]
    base = staff(
        queue,
        start=begin,
        interval_s=f0.interval_s,
        workloads=workloads,
        target=target,
        handling=handling_sample,
    )
    alt = None
    if not scenario.is_baseline:
        changed = apply_workloads(scenario, workloads, start=begin, interval_s=f0.interval_s)
        alt = staff(
            queue,
            start=begin,
            interval_s=f0.interval_s,
            workloads=changed,
            target=apply_target(scenario, target),
            handling=handling_sample,
        )
    rostered = (
        None
        if roster is None
        else scheduled_per_interval(
            roster, start=begin, intervals=part.stop - part.start, interval_s=f0.interval_s
        )
    )
    return QueueAnswer(queue, dict(forecasts), base, alt, rostered)
