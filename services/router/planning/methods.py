"""Forecasting methods for interval counts with a daily and a weekly season.

Each method takes the history (NaN = not observed or masked: holidays, closures, outages),
the number of intervals per day and a horizon, and returns a forecast array. They never look
past the end of the history they are given. Pure numpy, except ``mstl`` (statsforecast).
"""

from __future__ import annotations

import numpy as np

from services.router.planning.errors import PlanningError


def _weeks(history: np.ndarray, week: int, weeks: int, horizon: int) -> np.ndarray:
    """Rows = the ``weeks`` latest past values of each future slot's weekly slot, most recent
    first (NaN where the history is shorter or masked); shape (weeks, horizon)."""
    n = len(history)
    j = np.arange(horizon)
    back = (j // week + 1)[None, :] + np.arange(weeks)[:, None]
    idx = n + j[None, :] - back * week
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = history[idx[ok]]
    return out


def seasonal_naive(history: np.ndarray, day: int, horizon: int) -> np.ndarray:
    """Same slot last week (the latest observed week back for slots further ahead)."""
    return _first_observed(_weeks(history, 7 * day, 6, horizon))


def window_average(history: np.ndarray, day: int, horizon: int, weeks: int = 4) -> np.ndarray:
    """Mean of the same slot over the last ``weeks`` weeks, masked weeks left out."""
    return _nanmean(_weeks(history, 7 * day, weeks, horizon))


def window_median(history: np.ndarray, day: int, horizon: int, weeks: int = 6) -> np.ndarray:
    """Median of the same slot over the last ``weeks`` weeks (robust to one odd week)."""
    rows = _weeks(history, 7 * day, weeks, horizon)
    with np.errstate(all="ignore"):
        out = np.nanmedian(np.where(np.isnan(rows).all(axis=0), 0.0, rows), axis=0)
    return out


def level_profile(
    history: np.ndarray, day: int, horizon: int, weeks: int = 6, alpha: float = 0.5
) -> np.ndarray:
    """Day total × intraday shape: each future day's total is an exponentially weighted mean of
    the same weekday's past totals (weight ``alpha`` on the latest), its shape the mean share of
    each slot over the last ``weeks`` weeks. Tracks a level shift faster than a flat average."""
    rows = _weeks(history, 7 * day, weeks, horizon)  # (weeks, horizon), most recent first
    n_days = -(-horizon // day)
    out = np.zeros(horizon)
    for d in range(n_days):
        cols = slice(d * day, min(horizon, (d + 1) * day))
        block = rows[:, cols]
        totals = np.where(np.isnan(block).any(axis=1), np.nan, np.nansum(block, axis=1))
        obs = ~np.isnan(totals)
        if not obs.any():
            out[cols] = _nanmean(block)
            continue
        w = alpha * (1 - alpha) ** np.arange(len(totals))
        level = float(np.sum(w[obs] * totals[obs]) / np.sum(w[obs]))
        shares = block[obs] / np.maximum(totals[obs][:, None], 1e-9)
        shape = shares.mean(axis=0)
        out[cols] = level * shape if shape.sum() > 0 else _nanmean(block)
    return out


def daily_profile(history: np.ndarray, day: int, horizon: int, days: int = 7) -> np.ndarray:
    """Short-history fallback: the mean of each slot over the last ``days`` observed days,
    weekdays and weekends kept apart once both have been seen (the first week's answer)."""
    n = len(history)
    full_days = n // day
    table = history[n - full_days * day :].reshape(full_days, day)[-days:]
    return np.tile(_nanmean(table), -(-horizon // day))[:horizon]


def mstl(history: np.ndarray, day: int, horizon: int) -> np.ndarray:
    """statsforecast's MSTL (daily + weekly seasons, AutoETS trend) on the filled history."""
    try:
        from statsforecast.models import MSTL, AutoETS
    except ImportError:
        raise PlanningError(
            "MSTL needs the optional statsforecast package: pip install 'switchboard[forecast-library]'"
        ) from None

    filled = _fill(history, 7 * day)
    model = MSTL(season_length=[day, 7 * day], trend_forecaster=AutoETS(model="ZZN"))
    fitted = model.fit(filled[-8 * 7 * day :])
    return np.maximum(0.0, fitted.predict(h=horizon)["mean"])


def _fill(history: np.ndarray, week: int) -> np.ndarray:
    """Masked slots replaced by the same slot of the nearest observed week (for models that need
    a complete series)."""
    out = history.astype(float).copy()
    for i in np.flatnonzero(np.isnan(out)):
        for k in (-1, 1, -2, 2, -3, 3):
            j = i + k * week
            if 0 <= j < len(out) and not np.isnan(history[j]):
                out[i] = history[j]
                break
        else:
            out[i] = 0.0
    return out


def _nanmean(rows: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        counts = (~np.isnan(rows)).sum(axis=0)
        return np.where(counts > 0, np.nansum(rows, axis=0) / np.maximum(counts, 1), 0.0)


def _first_observed(rows: np.ndarray) -> np.ndarray:
    seen = ~np.isnan(rows)
    first = rows[seen.argmax(axis=0), np.arange(rows.shape[1])]
    return np.where(seen.any(axis=0), first, 0.0)
