"""The demo stream is replayed as live traffic: post times moved into the last minutes, order and
relative spacing kept, so SLA clocks (which start at the post time) are not all run out."""

from datetime import UTC, datetime, timedelta

from tools import replay

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_a_two_hour_stream_is_squeezed_into_the_last_five_minutes_in_order():
    base = datetime(2026, 11, 21, 18, tzinfo=UTC)
    messages = [
        {"message_id": str(i), "created_at": (base + timedelta(minutes=m)).isoformat()}
        for i, m in enumerate([0, 60, 90, 120])
    ]
    moved = [datetime.fromisoformat(m["created_at"]) for m in replay.as_live(messages, NOW)]
    assert moved[-1] == NOW and moved[0] == NOW - timedelta(minutes=5)
    assert moved == sorted(moved) and moved[2] - moved[1] == timedelta(seconds=75)
    assert [m["message_id"] for m in replay.as_live(messages, NOW)] == ["0", "1", "2", "3"]


def test_a_short_stream_keeps_its_spacing_and_messages_without_a_time_are_left_alone():
    messages = [
        {"created_at": "2026-11-21T18:00:00+00:00"},
        {"created_at": "2026-11-21T18:01:00+00:00"},
        {"text": "no time"},
    ]
    moved = replay.as_live(messages, NOW)
    assert moved[0]["created_at"] == (NOW - timedelta(minutes=1)).isoformat()
    assert moved[2] == {"text": "no time"}
