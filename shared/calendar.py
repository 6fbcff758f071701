"""Business calendars: a time zone, weekly opening hours, public holidays by country and
region (the ``holidays`` package) and closures (from config or an iCal file), shared by the
router (SLA deadlines in business time) and the notifier (page only when the office is closed).

Pure values; the clock is always passed in, never read here. All datetimes are timezone-aware.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 800  # how far to look for the next opening before declaring the calendar closed


class CalendarError(ValueError):
    """An unparseable or unusable calendar specification; the message names the bad part."""


@dataclass(frozen=True)
class Interval:
    start: time
    end: time

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class Closure:
    start: datetime
    end: datetime
    reason: str = "closure"


@dataclass(frozen=True)
class OfficeHours:
    timezone: str
    weekly: dict[int, tuple[Interval, ...]]  # weekday (0 = Monday) -> opening intervals

    @classmethod
    def parse(cls, timezone: str, spec: dict[str, str]) -> "OfficeHours":
        """From ``{"mon": "09:00-12:00,13:00-17:00", ...}``; missing days are closed."""
        zone(timezone)
        weekly: dict[int, tuple[Interval, ...]] = {}
        for day, text in spec.items():
            if day.lower() not in WEEKDAYS:
                raise CalendarError(f"unknown weekday {day!r}; use one of {', '.join(WEEKDAYS)}")
            weekly[WEEKDAYS.index(day.lower())] = tuple(
                _interval(day, p) for p in text.split(",") if p.strip()
            )
        return cls(timezone=timezone, weekly=weekly)

    def is_open(self, when: datetime) -> bool:
        """True when ``when`` falls inside the weekly hours (holidays not considered)."""
        local = _local(when, self.timezone)
        return any(iv.contains(local.time()) for iv in self.weekly.get(local.weekday(), ()))


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly hours minus public holidays minus closures."""

    hours: OfficeHours
    country: str | None = None
    subdivision: str | None = None
    closures: tuple[Closure, ...] = ()
    _holidays: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.country:
            try:
                table = holidays_lib.country_holidays(self.country, subdiv=self.subdivision)
            except NotImplementedError as exc:
                raise CalendarError(f"no holidays known for country {self.country!r}") from exc
            except Exception as exc:  # noqa: BLE001 - the library raises several types for bad subdivisions
                raise CalendarError(
                    f"holidays for {self.country}/{self.subdivision}: {exc}"
                ) from exc
            object.__setattr__(self, "_holidays", table)

    @property
    def timezone(self) -> str:
        return self.hours.timezone

    def holiday(self, day: date) -> str | None:
        """The public holiday's name on local date ``day``, or ``None``."""
        return self._holidays.get(day) if self._holidays is not None else None

    def closed_because(self, when: datetime) -> str | None:
        """Why the office is closed at ``when`` (holiday, closure, outside hours) or ``None`` if open."""
        local = _local(when, self.timezone)
        if (name := self.holiday(local.date())) is not None:
            return f"public holiday: {name}"
        for closure in self.closures:
            if closure.start <= when < closure.end:
                return f"closure: {closure.reason}"
        return None if self.hours.is_open(when) else "outside office hours"

    def is_open(self, when: datetime) -> bool:
        return self.closed_because(when) is None

    def open_intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open periods from ``start`` on, in order, clipped to start at ``start`` or later."""
        tz = zone(self.timezone)
        day = _local(start, self.timezone).date()
        for offset in range(HORIZON_DAYS):
            current = day + timedelta(days=offset)
            if self.holiday(current) is not None:
                continue
            for iv in self.hours.weekly.get(current.weekday(), ()):
                a = datetime.combine(current, iv.start, tz)
                b = datetime.combine(current, iv.end, tz)
                for piece in _minus_closures(max(a, start), b, self.closures):
                    yield piece

    def next_open(self, when: datetime) -> datetime:
        """``when`` if open, else the next moment the office opens. Raises ``CalendarError``."""
        for a, _b in self.open_intervals(when):
            return a
        raise CalendarError(f"the calendar never opens within {HORIZON_DAYS} days")

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of business time after ``start``. Raises ``CalendarError``."""
        left = amount
        for a, b in self.open_intervals(start):
            if b - a >= left:
                return a + left
            left -= b - a
        raise CalendarError(f"cannot fit {amount} of business time within {HORIZON_DAYS} days")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed from ``start`` to ``end`` (zero if ``end`` is not later)."""
        total = timedelta()
        for a, b in self.open_intervals(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception as exc:
        raise CalendarError(f"unknown time zone {name!r}") from exc


def _local(when: datetime, timezone: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError("calendars need timezone-aware datetimes")
    return when.astimezone(zone(timezone))


def _interval(day: str, text: str) -> Interval:
    try:
        start_s, end_s = (p.strip() for p in text.split("-"))
        start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    except ValueError as exc:
        raise CalendarError(f"{day}: {text.strip()!r} is not HH:MM-HH:MM") from exc
    if end <= start:
        raise CalendarError(f"{day}: {text.strip()!r} ends before it starts")
    return Interval(start, end)


def _minus_closures(
    a: datetime, b: datetime, closures: tuple[Closure, ...]
) -> list[tuple[datetime, datetime]]:
    pieces = [(a, b)] if a < b else []
    for c in closures:
        next_pieces = []
        for s, e in pieces:
            if c.end <= s or c.start >= e:
                next_pieces.append((s, e))
                continue
            if s < c.start:
                next_pieces.append((s, c.start))
            if c.end < e:
                next_pieces.append((c.end, e))
        pieces = next_pieces
    return pieces
