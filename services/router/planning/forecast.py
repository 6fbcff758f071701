"""Workload forecast for one series of interval counts: the method is chosen per series by a
rolling backtest on that series, with a prediction band and fallbacks for short history.

- Masked history (holidays and closures from the business calendar, days a caller marks, and
  days whose volume collapses or explodes against the same weekday: outages, missing data)
  trains nothing.
- Under one week of history the answer is the mean day so far (said in ``notes``); under one
  day, ``NotEnoughHistory``.
- Future days the calendar marks as special (holidays) are scaled by the ratio such days had to
  their normal weekday in the history; with no such day in the history they are forecast as
  normal days, and ``notes`` says so.

Pure: arrays and datetimes in, a ``Forecast`` out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from services.router.planning import methods
from services.router.planning.errors import NotEnoughHistory, PlanningError

Method = Callable[[np.ndarray, int, int], np.ndarray]
BASE_METHODS: dict[str, Method] = {
    "seasonal_naive": methods.seasonal_naive,
    "window_average_4w": methods.window_average,
    "window_median_6w": methods.window_median,
    "level_profile": methods.level_profile,
}
LIBRARY_METHODS: dict[str, Method] = {"mstl": methods.mstl}


@dataclass(frozen=True)
class Series:
    """Counts per interval from ``start`` (tz-aware); NaN = not observed."""

    start: datetime
    interval_s: int
    counts: np.ndarray

    @property
    def per_day(self) -> int:
        return 86_400 // self.interval_s

    def time(self, i: int) -> datetime:
        return self.start + timedelta(seconds=i * self.interval_s)


@dataclass(frozen=True)
class Forecast:
    start: datetime
    interval_s: int
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    method: str
    backtest_wape: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
    level: float = 0.8  # width of the prediction band
    folds: int = 6  # weekly backtest origins (3 chose less stably on the evaluation data)
    use_library: bool = False  # add statsforecast's MSTL to the candidates (slower)
    outlier_low: float = 0.35  # a day below this share of its weekday's median is masked
    outlier_high: float = 3.0
    only: str | None = None  # one named method, no backtest (evaluations of a single method)


def forecast(
    series: Series,
    horizon: int,
    *,
    masked_days: np.ndarray | None = None,
    special_future: np.ndarray | None = None,
    options: Options = Options(),
) -> Forecast:
    """Forecast ``horizon`` intervals after the history. ``masked_days`` (bool per history
    interval) excludes calendar days from training; ``special_future`` (bool per future interval)
    marks holidays ahead. Raises ``NotEnoughHistory`` or ``PlanningError`` with what is missing."""
    day = _check(series, horizon)
    history = np.asarray(series.counts, dtype=float).copy()
    special_hist = (
        np.zeros(len(history), bool) if masked_days is None else np.asarray(masked_days, bool)
    )
    history[special_hist] = np.nan
    notes: list[str] = []
    outliers = outlier_days(history, day, options.outlier_low, options.outlier_high)
    if outliers:
        notes.append(f"{len(outliers)} day(s) with unusual volume left out of training")
        for d in outliers:
            history[d * day : (d + 1) * day] = np.nan
    observed = int((~np.isnan(history)).sum())
    if observed < day:
        raise NotEnoughHistory(
            f"only {observed} usable intervals of {series.interval_s // 60} min; "
            f"a forecast needs at least one full day ({day} intervals)"
        )
    candidates = _candidates(len(history), day, options)
    if len(candidates) == 1:
        name = next(iter(candidates))
        if name == "daily_profile":
            notes.append(
                f"short history ({len(history) / day:.1f} days): mean day so far, weekly pattern not yet learnt"
            )
        scores: dict[str, float] = {}
        mean, residuals = candidates[name](history, day, horizon), np.array([])
    else:
        scores, residual_by = _backtest(history, day, candidates, options.folds)
        name = min(scores, key=lambda n: scores[n])
        mean, residuals = candidates[name](history, day, horizon), residual_by[name]
    mean = np.maximum(0.0, np.nan_to_num(mean))
    mean = _special(mean, series, special_hist, special_future, notes)
    lower, upper = _band(mean, residuals, options.level)
    return Forecast(
        series.time(len(history)),
        series.interval_s,
        mean,
        lower,
        upper,
        name,
        {k: round(v, 4) for k, v in scores.items()},
        tuple(notes),
    )


def _check(series: Series, horizon: int) -> int:
    if series.interval_s <= 0 or 86_400 % series.interval_s:
        raise PlanningError(
            f"interval of {series.interval_s} s does not divide a day; use 15 or 30 minutes"
        )
    if horizon <= 0:
        raise PlanningError("horizon must be at least one interval")
    return series.per_day


def outlier_days(history: np.ndarray, day: int, low: float, high: float) -> list[int]:
    """Whole days whose total is below ``low`` or above ``high`` times the median of the same
    weekday in the (up to) 8 surrounding weeks: outages, missing data, holidays not in the calendar."""
    days = len(history) // day
    totals = np.array(
        [
            np.nan
            if np.isnan(history[d * day : (d + 1) * day]).all()
            else np.nansum(history[d * day : (d + 1) * day])
            for d in range(days)
        ]
    )
    out = []
    for d in range(days):
        peers = [totals[d + k * 7] for k in range(-8, 9) if k and 0 <= d + k * 7 < days]
        peers = [p for p in peers if not np.isnan(p)]
        if len(peers) < 2 or np.isnan(totals[d]):
            continue
        med = float(np.median(peers))
        if med > 0 and not (low * med <= totals[d] <= high * med):
            out.append(d)
    return out


def _candidates(n: int, day: int, options: Options) -> dict[str, Method]:
    weeks = n / (7 * day)
    if weeks < 1:
        return {"daily_profile": methods.daily_profile}
    if weeks < 2:
        return {"seasonal_naive": methods.seasonal_naive, "daily_profile": methods.daily_profile}
    found = dict(BASE_METHODS)
    if (options.use_library or options.only in LIBRARY_METHODS) and weeks >= 3:
        found.update(LIBRARY_METHODS)
    if options.only is not None:
        if options.only not in found:
            raise PlanningError(
                f"unknown or unavailable method {options.only!r}; choose from {', '.join(found)}"
            )
        return {options.only: found[options.only]}
    return found


def _backtest(
    history: np.ndarray, day: int, candidates: dict[str, Method], folds: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """WAPE of each method over up to ``folds`` one-week windows at the end of the history
    (each trained only on what precedes it), and its scaled residuals for the band."""
    week = 7 * day
    origins = [
        len(history) - f * week for f in range(1, folds + 1) if len(history) - f * week >= week
    ]
    errors = {k: 0.0 for k in candidates}
    residuals: dict[str, list[np.ndarray]] = {k: [] for k in candidates}
    total = 0.0
    for origin in origins:
        actual = history[origin : origin + week]
        seen = ~np.isnan(actual)
        total += float(actual[seen].sum())
        for name, method in candidates.items():
            pred = np.maximum(0.0, np.nan_to_num(method(history[:origin], day, week)))
            errors[name] += float(np.abs(actual[seen] - pred[seen]).sum())
            residuals[name].append((actual[seen] - pred[seen]) / np.sqrt(pred[seen] + 1))
    scores = {k: v / max(total, 1e-9) for k, v in errors.items()}
    return scores, {k: np.concatenate(v) if v else np.array([]) for k, v in residuals.items()}


def _band(mean: np.ndarray, residuals: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Prediction band from the backtest's residuals scaled by sqrt(mean + 1) (counts vary more
    where there are more); without a backtest, a Poisson band widened by half."""
    if len(residuals) >= 50:
        lo_q, hi_q = np.quantile(residuals, [(1 - level) / 2, (1 + level) / 2])
    else:
        z = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96}.get(level, 1.2816) * 1.5
        lo_q, hi_q = -z, z
    scale = np.sqrt(mean + 1)
    return np.maximum(0.0, mean + lo_q * scale), np.maximum(mean, mean + hi_q * scale)


def _special(
    mean: np.ndarray,
    series: Series,
    special_hist: np.ndarray,
    special_future: np.ndarray | None,
    notes: list[str],
) -> np.ndarray:
    if special_future is None or not np.asarray(special_future).any():
        return mean
    factor = special_day_factor(np.asarray(series.counts, float), series.per_day, special_hist)
    if factor is None:
        notes.append(
            "holidays ahead forecast as normal days: no holiday in the history to learn from"
        )
        return mean
    notes.append(
        f"holidays ahead scaled by {factor:.2f} (their ratio to a normal weekday in the history)"
    )
    return np.where(np.asarray(special_future, bool), mean * factor, mean)


def special_day_factor(counts: np.ndarray, day: int, special: np.ndarray) -> float | None:
    """Median ratio of a special day's total to the mean of the same weekday in the 4 weeks before."""
    ratios = []
    for d in range(len(counts) // day):
        if not special[d * day : (d + 1) * day].any():
            continue
        peers = [
            np.nansum(counts[(d - 7 * k) * day : (d - 7 * k + 1) * day])
            for k in range(1, 5)
            if d - 7 * k >= 0 and not special[(d - 7 * k) * day : (d - 7 * k + 1) * day].any()
        ]
        if peers and np.mean(peers) > 0:
            ratios.append(np.nansum(counts[d * day : (d + 1) * day]) / np.mean(peers))
    return float(np.median(ratios)) if ratios else None


def day_mask(
    start: datetime, intervals: int, interval_s: int, is_special: Callable[[date], bool] | None
) -> np.ndarray:
    """True for every interval whose local day ``is_special`` (a holiday or closure of the
    business calendar, e.g. ``lambda d: calendar.holiday(d) is not None``)."""
    mask = np.zeros(intervals, bool)
    if is_special is None:
        return mask
    for i in range(intervals):
        mask[i] = is_special((start + timedelta(seconds=i * interval_s)).date())
    return mask
