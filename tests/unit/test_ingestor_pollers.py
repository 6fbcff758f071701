"""The pollers' pure parts: Retry-After, the Pacific quota day across DST, and the platform
parsers on documented shapes, including malformed items (invalid: dead-lettered once, never a stalled cursor)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.ingestor.pollers.feeds import parse_feed
from services.ingestor.pollers.fetch import retry_after_s
from services.ingestor.pollers.mastodon import html_text, parse_notifications
from services.ingestor.pollers.quota import next_reset, quota_day
from services.ingestor.pollers.youtube_comments import parse_threads
from shared.events import ChannelKind
from tests.integration.ingestor_fakes import atom, mention, thread

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after_s("120", NOW) == 120.0
    assert retry_after_s("Mon, 23 Nov 2026 06:00:45 GMT", NOW) == 45.0
    assert retry_after_s("Mon, 23 Nov 2026 05:00:00 GMT", NOW) == 0.0  # in the past: go now
    assert retry_after_s("", NOW) is None and retry_after_s("later", NOW) is None
    assert retry_after_s("99999999999", NOW) == 7 * 86400  # capped


def test_the_quota_day_ends_at_pacific_midnight_in_summer_and_winter():
    assert quota_day(NOW) == "2026-11-22" and next_reset(NOW) == datetime(
        2026, 11, 23, 8, tzinfo=UTC
    )  # PST
    summer = datetime(2026, 7, 1, 6, 59, tzinfo=UTC)
    assert quota_day(summer) == "2026-06-30" and next_reset(summer) == datetime(
        2026, 7, 1, 7, tzinfo=UTC
    )  # PDT
    assert quota_day(next_reset(summer)) == "2026-07-01"


def test_youtube_threads_stop_at_the_cursor_and_a_malformed_thread_is_invalid():
    good = [thread(f"Ug{i}", "v1", "UCx", f"2026-11-22T10:0{i}:00Z", f"c{i}") for i in (3, 2, 1)]
    broken = {
        "id": "UgBad",
        "snippet": {"topLevelComment": {"id": "UgBad", "snippet": {"publishedAt": "yesterday"}}},
    }
    parsed, newest, reached = parse_threads(
        {"items": [good[0], broken, good[1], good[2]]},
        datetime(2026, 11, 22, 10, 2, tzinfo=UTC),
        "yt",
        "raw_payloads/x",
    )
    assert [i.message.platform_message_id for i in parsed.items] == ["Ug3", "Ug2"] and reached
    assert newest == datetime(2026, 11, 22, 10, 3, tzinfo=UTC)
    [bad] = parsed.invalid
    assert (
        bad.path == "items[1]"
        and "publishedAt" in bad.error
        and b'"UgBad"' in bad.item
        and not parsed.unhandled
    )


def test_mastodon_mentions_direct_messages_and_other_notification_types():
    parsed, newest = parse_notifications(
        [
            mention(2, "hi"),
            mention(3, "psst", visibility="direct"),
            mention(4, "", kind="favourite"),
            {"id": "9", "type": "mention"},
        ],
        "m.example",
        "fedi",
        "raw_payloads/x",
    )
    kinds = [i.message.channel_kind for i in parsed.items]
    assert kinds == [ChannelKind.MENTION, ChannelKind.DIRECT_MESSAGE] and newest == "1004"
    assert (
        parsed.skipped == ["mastodon.favourite"]
        and parsed.invalid[0].path == "[3]"
        and not parsed.unhandled
    )
    assert (
        html_text('<p>Hi <a href="x">@<span>acme</span></a><br>line&amp;two</p>')
        == "Hi @acme\nline&two"
    )


def test_feed_entries_older_than_the_dedup_window_are_skipped():
    body = atom(
        [("urn:a", "A", "x"), ("urn:b", "B", "y")]
    ).encode()  # dated 2026-11-20 and 2026-11-21
    fetched = datetime(2026, 11, 23, tzinfo=UTC)
    assert len(parse_feed(body, "acct", "s", "raw_payloads/x", fetched).items) == 2
    parsed = parse_feed(
        body, "acct", "s", "raw_payloads/x", fetched, older_than=datetime(2026, 11, 21, tzinfo=UTC)
    )
    assert [i.message.platform_message_id for i in parsed.items] == [
        "urn:b"
    ] and parsed.skipped == ["feed.old_entry"]
    assert parsed.items[0].message.created_at == datetime(2026, 11, 21, 8, tzinfo=UTC)


def test_graph_rate_limits_are_told_from_other_refusals_and_their_wait_read_from_graph():
    from services.ingestor.pollers.fetch import PollFailed
    from services.ingestor.pollers.instagram_mentions import regain_s, throttle_code

    def refusal(body: bytes, status: int | None = 400) -> PollFailed:
        return PollFailed("refused", status=status, body=body)

    assert (
        throttle_code(
            refusal(b'{"error": {"code": 4, "message": "Application request limit reached"}}')
        )
        == 4
    )
    assert throttle_code(refusal(b'{"error": {"code": 80002}}', 403)) == 80002
    assert (
        throttle_code(refusal(b'{"error": {"code": 100, "message": "Unsupported get request"}}'))
        is None
    )
    assert throttle_code(refusal(b'{"error": {"code": true}}')) is None
    assert throttle_code(refusal(b"<html>oops</html>")) is None
    assert (
        throttle_code(refusal(b'{"error": {"code": 4}}', status=None)) is None
    )  # not an answer: transport
    usage = '{"1": [{"estimated_time_to_regain_access": 2}, {"estimated_time_to_regain_access": 7}], "2": []}'
    assert regain_s({"x-business-use-case-usage": usage}) == 420.0
    assert (
        regain_s(
            {"x-business-use-case-usage": '{"1": [{"estimated_time_to_regain_access": 9999}]}'}
        )
        == 3600.0
    )
    assert regain_s({}) is None and regain_s({"x-business-use-case-usage": "not json"}) is None
    assert (
        regain_s(
            {"x-business-use-case-usage": '{"1": [{"estimated_time_to_regain_access": "soon"}]}'}
        )
        is None
    )
