"""The CLI's picture of one queue: the forecast band against the recent actuals, and the agents
required (baseline, what-if) against the agents rostered. PNG or SVG by the file's suffix.
Uses matplotlib's non-interactive Agg backend; nothing is shown on screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.router.planning.csvio import interval_times
from services.router.planning.forecast import Series
from services.router.planning.service import QueueAnswer


def draw(
    path: Path, series: Series, a: QueueAnswer, workload: str = "reply", history_days: int = 14
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = a.forecasts.get(workload) or next(iter(a.forecasts.values()))
    keep = min(len(series.counts), history_days * series.per_day)
    past_t = interval_times(series.time(len(series.counts) - keep), keep, series.interval_s)
    fut_t = interval_times(f.start, len(f.mean), f.interval_s)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True)
    top.plot(past_t, series.counts[-keep:], color="0.3", lw=0.8, label="actual arrivals")
    top.fill_between(fut_t, f.lower, f.upper, color="tab:blue", alpha=0.25, label="80 % band")
    top.plot(fut_t, f.mean, color="tab:blue", lw=1, label=f"forecast ({f.method})")
    top.set_ylabel(f"arrivals per {f.interval_s // 60} min")
    top.set_title(f"{a.queue}: forecast and staffing")
    top.legend(loc="upper left", fontsize=8)
    rows = a.baseline.rows
    t = [r.start for r in rows]
    bottom.step(
        t, [r.scheduled for r in rows], where="post", color="tab:blue", label="required (scheduled)"
    )
    if a.scenario is not None:
        bottom.step(
            t,
            [r.scheduled for r in a.scenario.rows],
            where="post",
            color="tab:red",
            label="required, what-if",
        )
    if a.rostered is not None:
        bottom.step(t, a.rostered, where="post", color="tab:green", label="rostered")
        need = np.array([r.scheduled for r in (a.scenario or a.baseline).rows])
        bottom.fill_between(
            t,
            a.rostered,
            need,
            where=need > a.rostered,
            step="post",
            color="tab:red",
            alpha=0.3,
            label="gap",
        )
    bottom.set_ylabel("agents")
    bottom.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
