"""Office hours: a time zone and weekly opening hours, shared by the router (SLA in business
time, later) and the notifier (page only outside office hours).

Pure values; the clock is always passed in, never read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CalendarError(ValueError):
    """Raised for an unparseable office-hours specification, naming the bad part."""


@dataclass(frozen=True)
class Interval:
    start: time
    end: time

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class OfficeHours:
    timezone: str
    weekly: dict[int, tuple[Interval, ...]]  # weekday (0 = Monday) -> opening intervals

    @classmethod
    def parse(cls, timezone: str, spec: dict[str, str]) -> "OfficeHours":
        """From ``{"mon": "09:00-12:00,13:00-17:00", ...}``; missing days are closed."""
        try:
            ZoneInfo(timezone)
        except Exception as exc:
            raise CalendarError(f"unknown time zone {timezone!r}") from exc
        weekly: dict[int, tuple[Interval, ...]] = {}
        for day, text in spec.items():
            if day.lower() not in WEEKDAYS:
                raise CalendarError(f"unknown weekday {day!r}; use one of {', '.join(WEEKDAYS)}")
            weekly[WEEKDAYS.index(day.lower())] = tuple(_interval(day, part) for part in text.split(",") if part.strip())
        return cls(timezone=timezone, weekly=weekly)

    def is_open(self, when: datetime) -> bool:
        """True when ``when`` (timezone-aware) falls inside office hours."""
        if when.tzinfo is None:
            raise ValueError("office hours need a timezone-aware datetime")
        local = when.astimezone(ZoneInfo(self.timezone))
        return any(iv.contains(local.time()) for iv in self.weekly.get(local.weekday(), ()))


def _interval(day: str, text: str) -> Interval:
    try:
        start_s, end_s = (p.strip() for p in text.split("-"))
        start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    except ValueError as exc:
        raise CalendarError(f"{day}: {text.strip()!r} is not HH:MM-HH:MM") from exc
    if end <= start:
        raise CalendarError(f"{day}: {text.strip()!r} ends before it starts")
    return Interval(start, end)
