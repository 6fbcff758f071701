"""Business time across weekends, German national and state holidays, closures (config and
iCal, recurring included) and daylight-saving changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.calendar import CalendarError
from shared.calendar_config import calendar_from

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


BY = calendar_from(
    {"timezone": "Europe/Berlin", "holidays": {"country": "DE", "subdivision": "BY"}}
)
BE = calendar_from(
    {"timezone": "Europe/Berlin", "holidays": {"country": "DE", "subdivision": "BE"}}
)


def test_friday_afternoon_deadline_moves_over_the_weekend():
    # Fri 16:30 + 1h of business time = Mon 09:30
    assert BY.add(berlin(2026, 11, 20, 16, 30), timedelta(hours=1)) == berlin(2026, 11, 23, 9, 30)


def test_before_opening_counts_from_opening():
    assert BY.add(berlin(2026, 11, 23, 6, 0), timedelta(minutes=20)) == berlin(2026, 11, 23, 9, 20)


def test_national_holiday_is_skipped():
    # Thu 2026-12-24 16:30 + 1h: Christmas 25th (Fri) and 26th (Sat) closed, weekend, → Mon 28th 09:30
    assert BY.add(berlin(2026, 12, 24, 16, 30), timedelta(hours=1)) == berlin(2026, 12, 28, 9, 30)


def test_state_holiday_depends_on_the_region():
    # 2026-01-06 Epiphany: a holiday in Bavaria, not in Berlin
    assert not BY.is_open(berlin(2026, 1, 6, 10, 0))
    assert BY.closed_because(berlin(2026, 1, 6, 10, 0)) == "public holiday: Epiphany"
    assert BE.is_open(berlin(2026, 1, 6, 10, 0))
    # 2026-03-08 International Women's Day is a Berlin holiday but a Sunday; 2027-03-08 is a Monday
    assert not BE.is_open(berlin(2027, 3, 8, 10, 0)) and BY.is_open(berlin(2027, 3, 8, 10, 0))


def test_business_time_between_spans_the_weekend():
    assert BY.between(berlin(2026, 11, 20, 16, 0), berlin(2026, 11, 23, 10, 0)) == timedelta(
        hours=2
    )
    assert BY.between(berlin(2026, 11, 23, 10, 0), berlin(2026, 11, 23, 9, 0)) == timedelta(0)


def test_daylight_saving_change_keeps_local_hours():
    # Sat 2026-03-28 → Sun 29 (clocks go forward) → Mon 30 09:00 local is 07:00 UTC
    start = berlin(2026, 3, 27, 16, 30)
    deadline = BY.add(start, timedelta(hours=1))
    assert deadline == berlin(2026, 3, 30, 9, 30)
    assert deadline.astimezone(UTC).hour == 7
    assert BY.between(start, deadline) == timedelta(hours=1)


def test_closure_from_config_and_next_open():
    cal = calendar_from(
        {
            "closures": [
                {
                    "start": "2026-11-23T12:00:00+01:00",
                    "end": "2026-11-24T12:00:00+01:00",
                    "reason": "team offsite",
                }
            ]
        }
    )
    assert cal.closed_because(berlin(2026, 11, 23, 13, 0)) == "closure: team offsite"
    assert cal.next_open(berlin(2026, 11, 23, 13, 0)) == berlin(2026, 11, 24, 12, 0)
    assert cal.add(berlin(2026, 11, 23, 11, 0), timedelta(hours=2)) == berlin(2026, 11, 24, 13, 0)


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//switchboard//test//EN
BEGIN:VEVENT
UID:1
SUMMARY:Inventory day
DTSTART;VALUE=DATE:20261125
DTEND;VALUE=DATE:20261126
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:Friday all-hands
DTSTART;TZID=Europe/Berlin:20261106T150000
DTEND;TZID=Europe/Berlin:20261106T170000
RRULE:FREQ=WEEKLY;BYDAY=FR
END:VEVENT
END:VCALENDAR
"""


def test_ical_closures_including_recurring_events(tmp_path):
    path = tmp_path / "closures.ics"
    path.write_text(ICS)
    cal = calendar_from({"ical": str(path)}, now=berlin(2026, 11, 22, 12, 0))
    assert cal.closed_because(berlin(2026, 11, 25, 10, 0)) == "closure: Inventory day"
    assert not cal.is_open(berlin(2026, 11, 27, 15, 30))  # a later Friday of the recurring closure
    assert cal.is_open(berlin(2026, 11, 27, 14, 30))


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"timezone": "Nowhere/Land"}, "unknown time zone"),
        ({"holidays": {"country": "XX"}}, "no holidays known"),
        ({"weekly": {"mon": "late"}}, "not HH:MM-HH:MM"),
        (
            {"closures": [{"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00+00:00"}]},
            "closures.0.start",
        ),
        ({"ical": "/nonexistent.ics"}, "not found"),
        ({"colour": "blue"}, "calendar colour"),
    ],
)
def test_bad_calendars_are_refused_with_the_reason(spec, message):
    with pytest.raises(CalendarError, match=message):
        calendar_from(spec)


def test_a_calendar_that_never_opens_says_so():
    with pytest.raises(CalendarError, match="never opens"):
        calendar_from({"weekly": {}}).next_open(berlin(2026, 11, 23, 9, 0))
