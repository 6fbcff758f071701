"""Volume spikes counted by every classifier replica together, through the classifier's database.

The same verdicts as ``spike.SpikeDetector`` (tumbling windows of each message's own
``created_at``, an EWMA of earlier windows via ``spike.roll``, ``max(min_count, factor ×
expected)``), with the counts per (account, key, window) in ``classifier_spike_counts``.
``observe_batch`` blocks (call it from the worker thread) and runs one transaction per batch:

1. one query for the touched series' windows within the EWMA's horizon, one for the oldest
   window stored (the warm-up);
2. the batch's counts are added atomically (``INSERT … ON CONFLICT DO UPDATE SET count = count
   + excluded.count RETURNING count``): the totals include every replica's messages, and each
   message's count is the total before this batch plus the batch's messages up to it;
3. the first message of the batch that reaches a window's threshold claims the spike in
   ``classifier_spike_reports`` (insert-ignore): only the replica whose insert wins raises it,
   so each spike is reported exactly once;
4. at most every ``prune_every_s``, windows older than the horizon are deleted.

Differences from the in-memory detector, all from sharing: the EWMA starts at the oldest window
kept (``history_windows``, by default where the older windows' weight falls under 0.1 %); the
warm-up counts from the oldest window in the store, so a restarted replica that finds history
need not warm up again (and an empty store, or one idle for the whole horizon, warms up afresh);
a message for a window older than its key's newest (a lagging replica at a window's turn) is
counted (it is part of the rate) but never reports; the five sample keys are the first ones a
replica stored, and two replicas writing them at once may keep either's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, case, delete, func, select, tuple_

from services.classifier.signals.spike import DETECTOR, MAX_SAMPLES, Observation, roll
from services.classifier.stores.sql import (
    PARAMS_PER_QUERY,
    Pruner,
    chunks,
    insert_for,
    micros,
    moment,
    span_us,
)
from services.classifier.tables import ClassifierSpikeCount, ClassifierSpikeReport
from shared.events import IssueSpike

Counts, Reports = ClassifierSpikeCount.__table__, ClassifierSpikeReport.__table__
Window = tuple[str, str, int]  # account, key, window start (µs)


@dataclass(frozen=True)
class _Hit:
    """One message counted under one key."""

    index: int  # of the observation in the batch
    window: Window
    message_key: str


class SharedSpikeDetector:
    """``spike.SpikeDetector`` with its counts in the database; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        window: timedelta = timedelta(minutes=5),
        alpha: float = 0.2,
        factor: float = 4.0,
        min_count: int = 10,
        warmup_windows: int = 3,
        history_windows: int | None = None,
        prune_every_s: float = 30.0,
    ) -> None:
        self.engine, self.window, self.alpha, self.factor, self.min_count = (
            engine,
            window,
            alpha,
            factor,
            min_count,
        )
        self.warmup_windows = warmup_windows
        self.history_windows = history_windows or max(
            warmup_windows + 1, math.ceil(math.log(1e-3) / math.log(1 - alpha))
        )
        self._window_us = span_us(window)
        self._pruner = Pruner(prune_every_s)

    def observe(
        self, account_id: str, keys: tuple[str, ...], at: datetime, message_key: str
    ) -> list[IssueSpike]:
        """Count one message under each of ``keys``; the spikes it completes (usually none)."""
        return self.observe_batch([Observation(account_id, keys, at, message_key)])[0]

    def observe_batch(self, observations: Sequence[Observation]) -> list[list[IssueSpike]]:
        """Count each message under each of its keys, in order; the spikes each completes."""
        hits = [
            _Hit(i, (o.account_id, key, self._window_start(o.at)), o.message_key)
            for i, o in enumerate(observations)
            for key in o.keys
        ]
        out: list[list[IssueSpike]] = [[] for _ in observations]
        if not hits:
            return out
        with self.engine.begin() as conn:
            history, since = self._read(conn, hits)
            newest = {
                (account, key): start for account, key, start in sorted(history, key=lambda w: w[2])
            }
            before = self._add(conn, hits, history)
            candidates = self._judge(hits, history, before, newest, since)
            won = self._claim(conn, [spike for _, spike in candidates])
            self._pruner.run(lambda: self._prune(conn, max(hit.window[2] for hit in hits)))
        for index, spike in candidates:
            if (spike.account_id, spike.key, micros(spike.window_start)) in won:
                out[index].append(spike)
        return out

    def _window_start(self, at: datetime) -> int:
        us = micros(at)
        return us - us % self._window_us

    def _read(
        self, conn: Connection, hits: list[_Hit]
    ) -> tuple[dict[Window, tuple[int, list[str]]], int | None]:
        """The stored (count, samples) of the touched series' windows within the horizon, and
        the oldest window stored at all."""
        series = sorted({hit.window[:2] for hit in hits})
        horizon = min(hit.window[2] for hit in hits) - self.history_windows * self._window_us
        rows = [
            row
            for part in chunks(series, PARAMS_PER_QUERY // 2)
            for row in conn.execute(
                select(
                    Counts.c.account_id,
                    Counts.c.key,
                    Counts.c.window_start_us,
                    Counts.c.count,
                    Counts.c.samples,
                ).where(
                    tuple_(Counts.c.account_id, Counts.c.key).in_(part),
                    Counts.c.window_start_us >= horizon,
                )
            )
        ]
        since = conn.execute(select(func.min(Counts.c.window_start_us))).scalar()
        return {
            (r.account_id, r.key, r.window_start_us): (r.count, list(r.samples or ())) for r in rows
        }, since

    def _add(
        self, conn: Connection, hits: list[_Hit], history: dict[Window, tuple[int, list[str]]]
    ) -> dict[Window, int]:
        """Add the batch's counts; per window the shared count before this batch's messages.
        ``history`` is updated to the totals after them."""
        delta: dict[Window, list[str]] = defaultdict(list)
        for hit in hits:
            delta[hit.window].append(hit.message_key)
        rows = [
            {
                "account_id": w[0],
                "key": w[1],
                "window_start_us": w[2],
                "count": len(keys),
                "samples": (history.get(w, (0, []))[1] + keys)[:MAX_SAMPLES],
            }
            for w, keys in sorted(delta.items())
        ]
        stmt = insert_for(conn)(Counts)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(Counts.primary_key.columns),
            set_={
                "count": Counts.c.count + stmt.excluded.count,
                "samples": case(
                    (Counts.c.count < MAX_SAMPLES, stmt.excluded.samples), else_=Counts.c.samples
                ),
            },
        )
        before: dict[Window, int] = {}
        for r in conn.execute(
            stmt.returning(
                Counts.c.account_id, Counts.c.key, Counts.c.window_start_us, Counts.c.count
            ),
            rows,
        ):
            window = (r.account_id, r.key, r.window_start_us)
            before[window] = r.count - len(delta[window])
            history[window] = (r.count, history.get(window, (0, []))[1])
        return before

    def _judge(
        self,
        hits: list[_Hit],
        history: dict[Window, tuple[int, list[str]]],
        before: dict[Window, int],
        newest: dict[tuple[str, str], int],
        since: int | None,
    ) -> list[tuple[int, IssueSpike]]:
        """In message order, the first message of each window that reaches its threshold
        (``history`` holds the totals after this batch, and the samples stored before it)."""
        series: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for (account, key, start), (count, _) in sorted(
            history.items(), key=lambda item: item[0][2]
        ):
            series[(account, key)].append((start, count))
        counted: dict[Window, list[str]] = defaultdict(list)
        judged: set[Window] = set()
        candidates: list[tuple[int, IssueSpike]] = []
        for hit in hits:
            account, key, start = window = hit.window
            since = start if since is None else min(since, start)
            counted[window].append(hit.message_key)
            latest = newest[(account, key)] = max(newest.get((account, key), start), start)
            if (
                start < latest
                or window in judged
                or start < since + self.warmup_windows * self._window_us
            ):
                continue
            count = before[window] + len(counted[window])
            expected = self._expected(series[(account, key)], start)
            threshold = max(float(self.min_count), self.factor * expected)
            if count < threshold:
                continue
            judged.add(window)
            candidates.append(
                (
                    hit.index,
                    IssueSpike(
                        key=key,
                        account_id=account,
                        window_start=moment(start),
                        window_seconds=int(self.window.total_seconds()),
                        count=count,
                        expected=round(expected, 3),
                        threshold=round(threshold, 3),
                        sample_message_keys=tuple(
                            (history[window][1] + counted[window])[:MAX_SAMPLES]
                        ),
                        detected_by=DETECTOR,
                    ),
                )
            )
        return candidates

    def _expected(self, windows: list[tuple[int, int]], start: int) -> float:
        """The EWMA of a series' windows before ``start``, from the oldest kept (as ``SpikeDetector._roll``)."""
        expected, previous = 0.0, None
        for window_start, count in windows:
            if window_start >= start:
                break
            if previous is not None:
                expected = roll(
                    expected,
                    previous[1],
                    (window_start - previous[0]) // self._window_us,
                    self.alpha,
                )
            previous = (window_start, count)
        if previous is None:
            return 0.0
        return roll(expected, previous[1], (start - previous[0]) // self._window_us, self.alpha)

    def _claim(self, conn: Connection, spikes: list[IssueSpike]) -> set[Window]:
        """Insert the report markers; the windows whose marker this transaction inserted."""
        if not spikes:
            return set()
        rows = sorted({(s.account_id, s.key, micros(s.window_start)) for s in spikes})
        stmt = (
            insert_for(conn)(Reports)
            .on_conflict_do_nothing()
            .returning(Reports.c.account_id, Reports.c.key, Reports.c.window_start_us)
        )
        return {
            tuple(r)
            for r in conn.execute(
                stmt, [{"account_id": a, "key": k, "window_start_us": w} for a, k, w in rows]
            )
        }

    def _prune(self, conn: Connection, newest_us: int) -> None:
        cutoff = Pruner.cap(newest_us - self.history_windows * self._window_us)
        conn.execute(delete(Counts).where(Counts.c.window_start_us < cutoff))
        conn.execute(delete(Reports).where(Reports.c.window_start_us < cutoff))
