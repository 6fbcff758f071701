"""Volume spikes: a contact reason (tag) on one account arriving well above its usual rate.

Time is cut into tumbling windows of ``window`` (by each message's own ``created_at``, so
replays give the same answer and no clock is read). Per (account, key) the detector keeps
the count of the current window and an exponentially weighted moving average (EWMA) of
earlier windows' counts; empty windows in between decay the average. A key spikes when
its current count reaches ``max(min_count, factor × expected)``; it is reported once per
window, at the message that crossed the line (not at the window's end: the point is speed).
Nothing is reported during the first ``warmup_windows`` windows after the detector saw its
first message: a fresh process knows no usual rates, and every busy key would look like a
spike after each restart or deploy.

``SpikeDetector`` keeps its state in this process (``CLASSIFIER_SIGNALS_STORE=memory``, the
benches), bounded by ``max_keys`` (least recently seen keys are forgotten first); the service
shares it between replicas through the database with ``stores.spikes.SharedSpikeDetector``.
Not thread-safe.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from shared.events import IssueSpike

DETECTOR = "ewma-v1"
MAX_SAMPLES = 5


class Observation(NamedTuple):
    """One kept message, counted under each of its contact-reason ``keys``."""

    account_id: str
    keys: tuple[str, ...]
    at: datetime
    message_key: str


def roll(expected: float, count: int, windows: int, alpha: float) -> float:
    """The EWMA ``windows`` windows later, after a window of ``count`` messages and empty ones."""
    expected = alpha * count + (1 - alpha) * expected
    return expected * (1 - alpha) ** max(windows - 1, 0)


@dataclass
class _Series:
    window_start: datetime
    count: int = 0
    expected: float = 0.0
    reported: bool = False
    samples: list[str] = field(default_factory=list)


class SpikeDetector:
    """EWMA per (account, key) over tumbling windows; see the module docstring."""

    def __init__(
        self,
        window: timedelta = timedelta(minutes=5),
        alpha: float = 0.2,
        factor: float = 4.0,
        min_count: int = 10,
        max_keys: int = 50_000,
        warmup_windows: int = 3,
    ) -> None:
        self.window, self.alpha, self.factor, self.min_count, self.max_keys = (
            window,
            alpha,
            factor,
            min_count,
            max_keys,
        )
        self.warmup_windows = warmup_windows
        self._series: OrderedDict[tuple[str, str], _Series] = OrderedDict()
        self._since: datetime | None = None  # first window this detector saw

    def __len__(self) -> int:
        return len(self._series)

    def observe(
        self, account_id: str, keys: tuple[str, ...], at: datetime, message_key: str
    ) -> list[IssueSpike]:
        """Count one message under each of ``keys``; the spikes it completes (usually none)."""
        start = self._window_start(at)
        self._since = start if self._since is None else min(self._since, start)
        return [
            spike
            for key in keys
            if (spike := self._count(account_id, key, start, message_key)) is not None
        ]

    def observe_batch(self, observations: Sequence[Observation]) -> list[list[IssueSpike]]:
        """``observe`` each in order; the spikes each completes."""
        return [self.observe(*observation) for observation in observations]

    def _count(
        self, account: str, key: str, start: datetime, message_key: str
    ) -> IssueSpike | None:
        series = self._series_for((account, key), start)
        if start < series.window_start:
            return None  # late message for a closed window: it no longer changes the verdict
        self._roll(series, start)
        series.count += 1
        if len(series.samples) < MAX_SAMPLES:
            series.samples.append(message_key)
        threshold = max(float(self.min_count), self.factor * series.expected)
        if (
            series.reported
            or series.count < threshold
            or start < self._since + self.warmup_windows * self.window
        ):
            return None
        series.reported = True
        return IssueSpike(
            key=key,
            account_id=account,
            window_start=series.window_start,
            window_seconds=int(self.window.total_seconds()),
            count=series.count,
            expected=round(series.expected, 3),
            threshold=round(threshold, 3),
            sample_message_keys=tuple(series.samples),
            detected_by=DETECTOR,
        )

    def _series_for(self, ident: tuple[str, str], start: datetime) -> _Series:
        series = self._series.get(ident)
        if series is None:
            series = self._series[ident] = _Series(window_start=start)
            while len(self._series) > self.max_keys:
                self._series.popitem(last=False)
        self._series.move_to_end(ident)
        return series

    def _roll(self, series: _Series, start: datetime) -> None:
        """Close the windows between the series' current one and ``start`` (empty ones count 0)."""
        if start == series.window_start:
            return
        windows = int((start - series.window_start) / self.window)
        series.expected = roll(series.expected, series.count, windows, self.alpha)
        series.window_start, series.count, series.reported, series.samples = start, 0, False, []

    def _window_start(self, at: datetime) -> datetime:
        seconds = self.window.total_seconds()
        epoch = at.timestamp()
        return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)
