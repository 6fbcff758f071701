"""Scheduled vs required: agents' shifts as data (per team, a weekly pattern plus exceptions)
counted per interval, and the gaps against a requirement.

Shift data (YAML or JSON)::

    team: support-de
    timezone: Europe/Berlin
    pattern:
      - {days: mon-fri, from: "08:00", to: "16:30", agents: 3}
      - {days: sat, from: "10:00", to: "14:00", agents: 1}
    exceptions:
      - {date: 2025-05-01, from: "00:00", to: "24:00", agents: -3, reason: public holiday}

An interval counts an agent when the shift covers the whole interval. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from services.router.planning.errors import PlanningError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ShiftBlock:
    weekdays: frozenset[int]
    start: time
    end_minutes: int  # minutes after midnight, up to 1440
    agents: int


@dataclass(frozen=True)
class ShiftException:
    day: date
    start: time
    end_minutes: int
    agents: int  # added (negative: absent)
    reason: str = ""


@dataclass(frozen=True)
class Roster:
    team: str
    timezone: str
    pattern: tuple[ShiftBlock, ...]
    exceptions: tuple[ShiftException, ...] = ()


@dataclass(frozen=True)
class Gap:
    start: datetime
    required: int
    scheduled: int

    @property
    def short(self) -> int:
        return max(0, self.required - self.scheduled)


def _days(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in str(text).lower().replace(" ", "").split(","):
        a, _, b = part.partition("-")
        if a not in DAYS or (b and b not in DAYS):
            raise PlanningError(f"shift days {text!r}: use mon..sun, ranges like mon-fri, commas")
        i, j = DAYS.index(a), DAYS.index(b or a)
        out.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
    return frozenset(out)


def _minutes(text: str) -> int:
    h, _, m = str(text).partition(":")
    try:
        value = int(h) * 60 + int(m or 0)
    except ValueError:
        raise PlanningError(f"shift time {text!r}: use HH:MM") from None
    if not 0 <= value <= 1440:
        raise PlanningError(f"shift time {text!r} is outside 00:00-24:00")
    return value


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60) if minutes < 1440 else time(23, 59, 59)


def _entry(kind: str, k: int, entry) -> dict:
    if not isinstance(entry, dict):
        raise PlanningError(
            f"{kind}[{k}] must be a mapping like {{days: mon-fri, from: '08:00', to: '16:00', agents: 2}}"
        )
    return entry


def _span(
    kind: str, k: int, entry: dict, default_from: str | None = None, default_to: str | None = None
) -> tuple[int, int]:
    begin, end = entry.get("from", default_from), entry.get("to", default_to)
    if begin is None or end is None:
        raise PlanningError(f"{kind}[{k}] needs 'from' and 'to' (HH:MM)")
    lo, hi = _minutes(begin), _minutes(end)
    if hi <= lo:
        raise PlanningError(
            f"{kind}[{k}] ends ({end}) before it starts ({begin}); split a night shift at 24:00"
        )
    return lo, hi


def _agents(kind: str, k: int, value, *, signed: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PlanningError(f"{kind}[{k}]: agents must be a whole number")
    try:
        n = int(value)
    except ValueError:
        raise PlanningError(f"{kind}[{k}]: agents {value!r} is not a whole number") from None
    if not signed and n < 0:
        raise PlanningError(f"{kind}[{k}]: agents {n} is negative (absences go in exceptions)")
    if abs(n) > 10_000:
        raise PlanningError(f"{kind}[{k}]: {n} agents is not a plausible shift")
    return n


def _block(k: int, raw) -> ShiftBlock:
    b = _entry("pattern", k, raw)
    if "days" not in b:
        raise PlanningError(f"pattern[{k}] needs 'days' (e.g. mon-fri)")
    lo, hi = _span("pattern", k, b)
    return ShiftBlock(
        _days(b["days"]), _clock(lo), hi, _agents("pattern", k, b.get("agents", 1), signed=False)
    )


def _exception(k: int, raw) -> ShiftException:
    e = _entry("exceptions", k, raw)
    try:
        day = date.fromisoformat(str(e["date"]))
    except (KeyError, ValueError):
        raise PlanningError(f"exceptions[{k}] needs a 'date' as YYYY-MM-DD") from None
    if "agents" not in e:
        raise PlanningError(f"exceptions[{k}] needs 'agents' (negative: absent)")
    lo, hi = _span("exceptions", k, e, "00:00", "24:00")
    return ShiftException(
        day,
        _clock(lo),
        hi,
        _agents("exceptions", k, e["agents"], signed=True),
        str(e.get("reason", "")),
    )


def parse_roster(data: dict) -> Roster:
    """From the mapping documented above. Raises ``PlanningError`` naming the bad entry."""
    if not isinstance(data, dict):
        raise PlanningError("a roster is a mapping with timezone, pattern and exceptions")
    zone = data.get("timezone", "UTC")
    try:
        ZoneInfo(str(zone))
    except Exception:
        raise PlanningError(f"unknown time zone {zone!r}") from None
    pattern, exceptions = data.get("pattern") or (), data.get("exceptions") or ()
    if not isinstance(pattern, list | tuple) or not isinstance(exceptions, list | tuple):
        raise PlanningError("pattern and exceptions are lists of shifts")
    blocks = tuple(_block(k, b) for k, b in enumerate(pattern))
    extra = tuple(_exception(k, e) for k, e in enumerate(exceptions))
    return Roster(str(data.get("team", "")), str(zone), blocks, extra)


def scheduled_per_interval(
    roster: Roster, *, start: datetime, intervals: int, interval_s: int
) -> np.ndarray:
    """Agents on shift for each interval from ``start`` (whole-interval coverage)."""
    tz = ZoneInfo(roster.timezone)
    out = np.zeros(intervals, dtype=int)
    for i in range(intervals):
        a = (start + timedelta(seconds=i * interval_s)).astimezone(tz)
        lo = a.hour * 60 + a.minute
        hi = lo + interval_s // 60
        out[i] = sum(
            b.agents
            for b in roster.pattern
            if a.weekday() in b.weekdays
            and b.start.hour * 60 + b.start.minute <= lo
            and hi <= b.end_minutes
        )
        out[i] += sum(
            e.agents
            for e in roster.exceptions
            if e.day == a.date()
            and e.start.hour * 60 + e.start.minute <= lo
            and hi <= e.end_minutes
        )
    return np.maximum(out, 0)


def gaps(
    required: list[int], scheduled: np.ndarray, *, start: datetime, interval_s: int
) -> list[Gap]:
    """Every interval where the schedule falls short of the requirement."""
    return [
        Gap(start + timedelta(seconds=i * interval_s), int(r), int(s))
        for i, (r, s) in enumerate(zip(required, scheduled, strict=True))
        if r > s
    ]
