"""Loading a ``BusinessCalendar`` from configuration: a YAML/JSON-like mapping and optional
iCal closures (recurring events expanded with ``recurring-ical-events``).

    timezone: Europe/Berlin
    weekly: {mon: "09:00-17:00", ...}
    holidays: {country: DE, subdivision: BY}
    closures: [{start: 2026-12-24T12:00:00+01:00, end: 2026-12-27T00:00:00+01:00, reason: Christmas}]
    ical: /etc/switchboard/closures.ics
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from shared.calendar import BusinessCalendar, CalendarError, Closure, OfficeHours, zone

ICAL_WINDOW = (timedelta(days=-31), timedelta(days=2 * 366))


class _HolidaySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country: str
    subdivision: str | None = None


class _ClosureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime
    end: AwareDatetime
    reason: str = "closure"


class CalendarSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = "Europe/Berlin"
    weekly: dict[str, str] = {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
    holidays: _HolidaySpec | None = None
    closures: list[_ClosureSpec] = []
    ical: Path | None = None


def read_spec(text: str) -> dict:
    """The mapping in a calendar YAML document (empty for an empty one). Raises ``CalendarError``."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalendarError(f"calendar: not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise CalendarError("calendar: the document must be a mapping")
    return data or {}


def calendar_from(spec: dict | CalendarSpec, now: datetime | None = None) -> BusinessCalendar:
    """Build the calendar. Raises ``CalendarError`` naming the bad field or file."""
    try:
        parsed = spec if isinstance(spec, CalendarSpec) else CalendarSpec.model_validate(spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CalendarError(f"calendar {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    closures = [Closure(c.start, c.end, c.reason) for c in parsed.closures]
    if parsed.ical is not None:
        closures += ical_closures(
            parsed.ical, parsed.timezone, now or datetime.now(zone(parsed.timezone))
        )
    return BusinessCalendar(
        hours=OfficeHours.parse(parsed.timezone, parsed.weekly),
        country=parsed.holidays.country if parsed.holidays else None,
        subdivision=parsed.holidays.subdivision if parsed.holidays else None,
        closures=tuple(sorted(closures, key=lambda c: c.start)),
    )


def ical_closures(path: Path, timezone: str, now: datetime) -> list[Closure]:
    """Closures from the VEVENTs of an iCal file, recurring ones expanded around ``now``."""
    import icalendar
    import recurring_ical_events

    try:
        cal = icalendar.Calendar.from_ical(Path(path).read_bytes())
    except FileNotFoundError as exc:
        raise CalendarError(f"iCal file {path} not found") from exc
    except ValueError as exc:
        raise CalendarError(f"iCal file {path}: {exc}") from exc
    tz = zone(timezone)
    events = recurring_ical_events.of(cal).between(now + ICAL_WINDOW[0], now + ICAL_WINDOW[1])
    return [
        Closure(_aware(e["DTSTART"].dt, tz), _aware(_end(e), tz), str(e.get("SUMMARY", "closure")))
        for e in events
    ]


def _end(event) -> date | datetime:
    if "DTEND" in event:
        return event["DTEND"].dt
    start = event["DTSTART"].dt
    return start + timedelta(days=1) if not isinstance(start, datetime) else start


def _aware(value: date | datetime, tz) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tz)
    return value if value.tzinfo else value.replace(tzinfo=tz)
