"""Reader for the research-only "Anonymous Bank" call-centre data (Brown et al. 2005), used by
``python -m services.router.planning evaluate`` only. It reads ../shared/datasets in place;
nothing from it is copied into the repository or becomes a default.

The traps its README lists, and what this reader does about each:
- 1999-05-23 is the mean of its neighbours, not data: ``IMPUTED_DAYS``, masked in training;
- the arrivals CSV counts every record (voice-menu-only calls, hang-ups, PHANTOMs): used as is
  for the forecast, as the published protocol does;
- in the February call log ``0:00:00`` means "did not happen", not midnight; PHANTOM rows are
  virtual calls (dropped); AGENT rows served by ``NO_SERVER`` are not agent services (dropped);
  16 services cross midnight (the recorded ``ser_time`` is used, not exit − start);
- a call *seeks an agent* when it was served (AGENT) or hung up after queueing (HANG with
  ``q_time`` > 0); its arrival is the queue entry, or the service start for the 13,067 calls
  that went straight to an agent;
- there is no record of staffing: models are checked by replay at a staffing we choose.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

IMPUTED_DAYS = (date(1999, 5, 23),)
ARRIVALS = "arrivals-6min-1999-01-09.csv"
CALLS = "calls-1999-02.txt"


@dataclass(frozen=True)
class Call:
    """One call that sought an agent: queue arrival, wait, whether it was served, service time."""

    arrived: datetime
    wait_s: float
    served: bool
    service_s: float


def read_arrivals(folder: Path, per_interval: int = 5) -> tuple[date, np.ndarray, np.ndarray]:
    """(first day, counts per ``per_interval`` × 6 minutes as a flat array, imputed-day mask)."""
    days: dict[date, list[float]] = {}
    with open(folder / ARRIVALS, newline="") as fh:
        for row in csv.DictReader(fh):
            days.setdefault(date.fromisoformat(row["date"]), []).append(float(row["calls"]))
    first = min(days)
    ordered = [days[first + timedelta(d)] for d in range(len(days))]
    six = np.array(ordered)  # (days, 240)
    counts = six.reshape(len(ordered), -1, per_interval).sum(axis=2).ravel()
    per_day = six.shape[1] // per_interval
    mask = np.zeros(len(counts), bool)
    for d in IMPUTED_DAYS:
        i = (d - first).days
        mask[i * per_day : (i + 1) * per_day] = True
    return first, counts, mask


def _clock(day: date, text: str) -> datetime | None:
    if text == "0:00:00":
        return None  # "did not happen"
    h, m, s = (int(x) for x in text.split(":"))
    return datetime(day.year, day.month, day.day) + timedelta(hours=h, minutes=m, seconds=s)


def read_calls(folder: Path) -> list[Call]:
    """The February calls that sought an agent, sorted by arrival."""
    calls = []
    with open(folder / CALLS, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            call = _call(row)
            if call is not None:
                calls.append(call)
    return sorted(calls, key=lambda c: c.arrived)


def _call(row: dict) -> Call | None:
    outcome = row["outcome"]
    if outcome == "PHANTOM" or (outcome == "AGENT" and row["server"] == "NO_SERVER"):
        return None
    day = datetime.strptime(row["date"], "%y%m%d").date()
    queued = _clock(day, row["q_start"])
    q_time = float(row["q_time"])
    if outcome == "HANG":
        if queued is None or q_time <= 0:
            return None  # left in the voice menu: never sought an agent
        return Call(queued, q_time, False, 0.0)
    start = _clock(day, row["ser_start"])
    arrived = queued or start
    if arrived is None:
        return None
    return Call(arrived, q_time if queued else 0.0, True, float(row["ser_time"]))
