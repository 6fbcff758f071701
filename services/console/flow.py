"""Messages per minute from running totals. The router reports how many messages were classified
so far by decision and channel (``GET /v1/flow``); the console samples those totals whenever a
flow page asks (every few seconds while one is open) and turns consecutive samples into counts per
minute. Pure: times are passed in. The samples are counts only (no content), shared by every
signed-in user; at most ``keep_minutes`` are kept."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

DECISIONS = ("reply", "tag", "drop")


@dataclass(frozen=True)
class Sample:
    at: datetime
    counts: dict[str, int]  # "decision:<d>" and "channel:<c>" -> running total


def flatten(totals: dict[str, dict[str, int]]) -> dict[str, int]:
    """``{decision: {channel: n}}`` → running totals per decision and per channel."""
    out: dict[str, int] = {}
    for decision, per_channel in totals.items():
        for channel, n in per_channel.items():
            out[f"decision:{decision}"] = out.get(f"decision:{decision}", 0) + n
            out[f"channel:{channel}"] = out.get(f"channel:{channel}", 0) + n
    return out


class FlowSamples:
    def __init__(self, keep_minutes: int = 60) -> None:
        self.keep = timedelta(minutes=keep_minutes)
        self._samples: deque[Sample] = deque()

    def add(self, at: datetime, totals: dict[str, dict[str, int]]) -> None:
        self._samples.append(Sample(at, flatten(totals)))
        while self._samples and at - self._samples[0].at > self.keep:
            self._samples.popleft()

    def latest(self) -> dict[str, int]:
        return dict(self._samples[-1].counts) if self._samples else {}

    def per_minute(
        self, now: datetime, minutes: int = 30
    ) -> tuple[list[str], dict[str, list[int]]]:
        """Labels (HH:MM, oldest first) and, per key seen, the messages counted in each minute:
        the growth between consecutive samples, put in the minute of the later one. A total that
        shrank (the router's database was reset) counts as nothing."""
        end = now.replace(second=0, microsecond=0)
        starts = [end - timedelta(minutes=minutes - 1 - i) for i in range(minutes)]
        index = {start: i for i, start in enumerate(starts)}
        keys = sorted({k for s in self._samples for k in s.counts})
        out = {k: [0] * minutes for k in keys}
        previous: Sample | None = None
        for sample in self._samples:
            slot = index.get(sample.at.replace(second=0, microsecond=0))
            if previous is not None and slot is not None:
                for k in keys:
                    grew = sample.counts.get(k, 0) - previous.counts.get(k, 0)
                    out[k][slot] += max(grew, 0)
            previous = sample
        return [s.strftime("%H:%M") for s in starts], out
