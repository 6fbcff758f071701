"""Property: the pollers' parsers and the new Meta shapes, fed hostile input (arbitrary JSON,
documented responses with any node replaced or removed, arbitrary bytes as a feed), return valid
messages, mark bad items invalid, or refuse with their one error type — never another exception
(which would crash a poll round and stall its cursor)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.ingestor.platforms import meta
from services.ingestor.pollers.feeds import parse_feed
from services.ingestor.pollers.fetch import PollFailed
from services.ingestor.pollers.mastodon import parse_notifications
from services.ingestor.pollers.youtube_comments import parse_threads
from tests.ingestor_support import platform_examples as ex
from tests.integration.ingestor_fakes import atom, comment, mention, rss, thread
from tests.unit.test_ingestor_parser_properties import CTX, PROPERTY, REFUSALS, mutate

SINCE = datetime(2026, 11, 22, 10, 1, tzinfo=UTC)
EXAMPLES = {
    "youtube": {
        "items": [
            thread(
                "Ug1",
                "v",
                "UC",
                "2026-11-22T10:02:00Z",
                "hi",
                [comment("Ug1.r", "v", "UC", "2026-11-22T10:03:00Z", "re", parent="Ug1")],
            )
        ],
        "nextPageToken": "2",
    },
    "mastodon": [
        mention(1, "hi"),
        mention(2, "dm", visibility="direct"),
        mention(3, "", kind="favourite"),
    ],
    "meta": ex.meta_body(
        "whatsapp_business_account",
        [ex.whatsapp_entry([ex.whatsapp_edit("wamid.O"), ex.whatsapp_revoke("wamid.O")])],
    ),
    "instagram": ex.meta_body("instagram", [ex.instagram_mention_entry()]),
}


def _youtube(document):
    if not isinstance(document, dict):
        raise PollFailed("not an object")  # what the poller checks before parsing
    return parse_threads(document, SINCE, "yt", "raw_payloads/x")[0]


def _mastodon(document):
    if not isinstance(document, list):
        raise PollFailed("not an array")
    return parse_notifications(document, "m.example", "fedi", "raw_payloads/x")[0]


PARSERS = {
    "youtube": _youtube,
    "mastodon": _mastodon,
    "meta": lambda d: meta.parse(d, CTX),
    "instagram": lambda d: meta.parse(d, CTX),
}


@st.composite
def mutated(draw, name: str):
    return mutate(draw, EXAMPLES[name])


@PROPERTY
@given(data=st.data(), name=st.sampled_from(sorted(PARSERS)))
def test_documented_responses_with_a_hostile_node_are_parsed_or_refused(data, name):
    document = data.draw(mutated(name))
    try:
        parsed = PARSERS[name](document)
    except (*REFUSALS, PollFailed):
        return
    assert all(item.message.platform_message_id for item in parsed.items + parsed.deferred)


@PROPERTY
@given(
    body=st.binary(max_size=300)
    | st.builds(
        lambda a, b, c: a + b + c,
        st.binary(max_size=20),
        st.sampled_from(
            [atom([("urn:1", "t", "<b>x</b>")]).encode(), rss([("g", "t", "y")]).encode()]
        ),
        st.binary(max_size=20),
    ),
    cut=st.integers(0, 2000),
)
def test_feed_bytes_are_parsed_or_refused(body, cut):
    for candidate in (body, body[:cut]):
        try:
            parsed = parse_feed(
                candidate, "acct", "s", "raw_payloads/x", datetime(2026, 11, 23, tzinfo=UTC)
            )
        except PollFailed:
            continue
        assert all(len(item.message.platform_message_id) <= 512 for item in parsed.items)
