"""Arrivals from a CSV file, and the plan as a CSV table (the CLI's files).

Two input shapes, told apart by the header:
- one row per arrival: a ``timestamp`` column (ISO 8601; also ``received_at``, ``created_at``,
  ``time``), optionally ``queue`` and ``handle_s`` (handling seconds, averaged per queue);
- counts per interval: ``start`` (ISO 8601) or ``date`` + ``interval_start`` (HH:MM), and a
  count column (``count``, ``calls`` or ``arrivals``), optionally ``queue``. Finer intervals
  than asked are summed (6-minute counts into 30 minutes).
Naive times are read in the ``tz`` given; the series starts at the first day's midnight and
intervals after the file's last row are "not observed".
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from services.router.planning.errors import PlanningError
from services.router.planning.forecast import Series

TIME_COLUMNS = ("timestamp", "received_at", "created_at", "time")
COUNT_COLUMNS = ("count", "calls", "arrivals")


@dataclass(frozen=True)
class Arrivals:
    series: dict[str, Series]  # queue -> counts
    handle_s: dict[str, float]  # queue -> mean handling seconds, where the file had them


def _when(text: str, tz: ZoneInfo) -> datetime:
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PlanningError(
            f"cannot read time {text!r}: use ISO 8601 like 2025-03-01T08:30:00"
        ) from None
    return t.replace(tzinfo=tz) if t.tzinfo is None else t.astimezone(tz)


def read(path: Path, *, interval_s: int, tz: str = "UTC") -> Arrivals:
    """Raises ``PlanningError`` naming what the file lacks."""
    zone = ZoneInfo(tz)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise PlanningError(f"{path}: no rows")
    header = {h.strip().lower(): h for h in rows[0]}
    events: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    handles: dict[str, list[float]] = defaultdict(list)
    time_col = next((header[c] for c in TIME_COLUMNS if c in header), None)
    count_col = next((header[c] for c in COUNT_COLUMNS if c in header), None)
    queue_col = header.get("queue")
    for row in rows:
        queue = (row.get(queue_col) or "default").strip() if queue_col else "default"
        if count_col and ("start" in header or ("date" in header and "interval_start" in header)):
            start = (
                row[header["start"]]
                if "start" in header
                else f"{row[header['date']]}T{row[header['interval_start']]}"
            )
            events[queue].append((_when(start, zone), float(row[count_col] or 0)))
        elif time_col:
            events[queue].append((_when(row[time_col], zone), 1.0))
            if "handle_s" in header and row[header["handle_s"]]:
                handles[queue].append(float(row[header["handle_s"]]))
        else:
            raise PlanningError(
                f"{path}: need a timestamp column ({', '.join(TIME_COLUMNS)}) or a start and a "
                f"count column ({', '.join(COUNT_COLUMNS)})"
            )
    return Arrivals(
        {q: _bucket(ev, interval_s) for q, ev in events.items()},
        {q: float(np.mean(v)) for q, v in handles.items() if v},
    )


def _bucket(events: list[tuple[datetime, float]], interval_s: int) -> Series:
    first = min(t for t, _ in events)
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    last = max(t for t, _ in events)
    n = math.ceil(((last - start).total_seconds() + 1) / 86_400) * (86_400 // interval_s)
    counts = np.zeros(n)
    for t, c in events:
        counts[int((t - start).total_seconds() // interval_s)] += c
    # after the last row the file says nothing: not observed, rather than a quiet evening
    counts[int((last - start).total_seconds() // interval_s) + 1 :] = np.nan
    return Series(start, interval_s, counts)


def write_plan(path: Path, rows: list[dict]) -> None:
    """The plan table: one row per queue and interval."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["queue"])
        w.writeheader()
        w.writerows(rows)


def interval_times(start: datetime, n: int, interval_s: int) -> list[datetime]:
    return [start + timedelta(seconds=i * interval_s) for i in range(n)]
