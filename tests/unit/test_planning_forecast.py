"""Forecast methods, the per-series choice by backtest, the band, and the fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from services.router.planning import methods
from services.router.planning.errors import NotEnoughHistory, PlanningError
from services.router.planning.forecast import (
    Series,
    forecast,
    outlier_days,
    special_day_factor,
)

DAY = 48
START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday


def _mean(days: int) -> np.ndarray:
    shape = 10 * np.exp(-(((np.arange(DAY) - 26) / 6) ** 2))
    week = np.array([1, 1, 1, 1, 0.8, 0.3, 0.2])
    return np.concatenate([shape * week[d % 7] for d in range(days)])


def _series(days: int, seed: int = 1) -> Series:
    return Series(START, 1800, np.random.default_rng(seed).poisson(_mean(days)).astype(float))


def test_seasonal_naive_repeats_last_week_and_the_week_before_for_week_two():
    history = np.arange(14 * DAY, dtype=float)
    f = methods.seasonal_naive(history, DAY, 14 * DAY)
    assert np.array_equal(f[: 7 * DAY], history[7 * DAY :])
    assert np.array_equal(f[7 * DAY :], history[7 * DAY :])


def test_window_average_skips_masked_weeks():
    history = np.tile(np.arange(7 * DAY, dtype=float), 4)
    history[3 * 7 * DAY :] = np.nan  # the last week unobserved
    assert np.allclose(methods.window_average(history, DAY, 7 * DAY), np.arange(7 * DAY))


def test_under_a_day_is_refused_with_what_is_missing():
    with pytest.raises(NotEnoughHistory, match="at least one full day"):
        forecast(Series(START, 1800, np.ones(30)), DAY)


def test_first_week_falls_back_to_the_mean_day():
    f = forecast(_series(3), DAY)
    assert f.method == "daily_profile" and any("short history" in n for n in f.notes)
    assert f.mean.sum() > 0


def test_second_week_uses_last_week_or_the_mean_day():
    f = forecast(_series(10), 7 * DAY)
    assert f.method in {"seasonal_naive", "daily_profile"}


def test_backtest_picks_a_method_that_tracks_the_weekly_shape():
    f = forecast(_series(56), 7 * DAY)
    truth = _mean(63)[56 * DAY :]
    assert f.method in {"window_average_4w", "window_median_6w", "level_profile", "seasonal_naive"}
    assert set(f.backtest_wape) >= {"seasonal_naive", "window_average_4w"}
    naive = methods.seasonal_naive(_series(56).counts, DAY, 7 * DAY)
    assert (
        np.abs(f.mean - truth).sum() < 0.8 * np.abs(naive - truth).sum()
    )  # averaging beats one noisy week
    assert np.all(f.lower <= f.mean) and np.all(f.mean <= f.upper)
    assert f.start == START + (datetime(2025, 3, 3, tzinfo=UTC) - START)


def test_an_outage_day_is_left_out_of_training():
    s = _series(42)
    counts = s.counts.copy()
    counts[35 * DAY : 36 * DAY] = 0  # Monday of the last week: nothing arrived (ingestion outage)
    assert 35 in outlier_days(counts, DAY, 0.35, 3.0)
    f = forecast(Series(START, 1800, counts), 7 * DAY)
    assert any("unusual volume" in n for n in f.notes)
    assert f.mean[:DAY].sum() > 0.6 * _mean(1).sum()


def test_holidays_ahead_scaled_by_what_past_holidays_did():
    s = _series(42)
    counts = s.counts.copy()
    counts[16 * DAY : 17 * DAY] *= 0.1  # a past holiday (Wednesday, week 3)
    special = np.zeros(len(counts), bool)
    special[16 * DAY : 17 * DAY] = True
    assert special_day_factor(counts, DAY, special) == pytest.approx(0.1, abs=0.05)
    ahead = np.zeros(7 * DAY, bool)
    ahead[2 * DAY : 3 * DAY] = True
    f = forecast(Series(START, 1800, counts), 7 * DAY, masked_days=special, special_future=ahead)
    assert f.mean[2 * DAY : 3 * DAY].sum() < 0.2 * f.mean[1 * DAY : 2 * DAY].sum()
    assert any("holidays ahead scaled" in n for n in f.notes)


def test_holidays_ahead_without_a_past_one_are_said_to_be_normal_days():
    ahead = np.zeros(7 * DAY, bool)
    ahead[:DAY] = True
    f = forecast(_series(21), 7 * DAY, special_future=ahead)
    assert any("no holiday in the history" in n for n in f.notes)


def test_an_interval_that_does_not_divide_a_day_is_refused():
    with pytest.raises(PlanningError, match="does not divide a day"):
        forecast(Series(START, 7 * 60, np.ones(1000)), 10)


def test_one_named_method_skips_the_backtest_and_unknown_names_are_refused():
    from services.router.planning.forecast import Options

    f = forecast(_series(28), 7 * DAY, options=Options(only="window_average_4w"))
    assert f.method == "window_average_4w" and f.backtest_wape == {} and not f.notes
    with pytest.raises(PlanningError, match="unknown or unavailable method"):
        forecast(_series(28), 7 * DAY, options=Options(only="prophet"))
