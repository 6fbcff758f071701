from datetime import UTC, datetime

import pytest

from shared import topics
from shared.calendar import CalendarError, OfficeHours


def test_registry_names_are_unique_and_dlqs_registered():
    names = [s.name for s in topics.registry()]
    assert len(names) == len(set(names))
    for core in (topics.RAW, topics.CLASSIFIED, topics.ROUTED, topics.PAGES):
        assert topics.spec(core).dlq in names


def test_namespace_prefixes_topic_and_dlq():
    assert topics.qualified(topics.RAW, "t1.") == "t1.switchboard.messages.raw.v1"
    assert topics.dlq_for(topics.RAW, "t1.") == "t1.switchboard.messages.raw.v1.dlq"
    with pytest.raises(topics.UnknownTopic):
        topics.qualified("nope")


BERLIN = OfficeHours.parse(
    "Europe/Berlin", {"mon": "09:00-12:00,13:00-17:00", "sat": "10:00-14:00"}
)


@pytest.mark.parametrize(
    "when,expected",
    [
        (datetime(2026, 11, 23, 8, 30, tzinfo=UTC), True),  # Mon 09:30 CET
        (datetime(2026, 11, 23, 11, 30, tzinfo=UTC), False),  # Mon 12:30 lunch
        (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), False),  # Mon 17:00 closed (end exclusive)
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), False),  # Tuesday not listed
        (datetime(2026, 11, 28, 9, 0, tzinfo=UTC), True),  # Sat 10:00
        (datetime(2026, 6, 1, 7, 30, tzinfo=UTC), True),  # Mon 09:30 CEST (summer time)
    ],
)
def test_office_hours_in_local_time(when, expected):
    assert BERLIN.is_open(when) is expected


@pytest.mark.parametrize(
    "tz,spec,message",
    [
        ("Mars/Olympus", {}, "unknown time zone"),
        ("UTC", {"funday": "09:00-10:00"}, "unknown weekday"),
        ("UTC", {"mon": "9 to 5"}, "not HH:MM-HH:MM"),
        ("UTC", {"mon": "17:00-09:00"}, "ends before it starts"),
    ],
)
def test_bad_office_hours_are_refused_with_the_reason(tz, spec, message):
    with pytest.raises(CalendarError, match=message):
        OfficeHours.parse(tz, spec)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        BERLIN.is_open(datetime(2026, 11, 23, 9, 0))
