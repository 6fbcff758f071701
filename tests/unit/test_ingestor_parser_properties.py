"""Property: every platform parser, fed hostile documents (arbitrary JSON, documented payloads with
any node replaced by arbitrary JSON, arbitrary bytes as Atom), either returns valid messages or
refuses with its one error type — never another exception (which would become a 500)."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.ingestor.normalized import Context
from services.ingestor.platforms import meta, telegram, youtube
from services.ingestor.platforms import x as xaa
from services.ingestor.shapes import PayloadInvalid
from tests.ingestor_support import platform_examples as ex

CTX = Context("src", "raw_payloads/abc")
PROPERTY = settings(max_examples=300, deadline=None)
REFUSALS = (PayloadInvalid, ValidationError)

text = st.text(max_size=20)
# times and ids live near these magnitudes: sample them on purpose, beside the whole range
edges = st.sampled_from(
    [
        0,
        -1,
        2**63,
        10**15,
        10**16 - 1,
        253_402_300_800,
        99_999_999_999,
        1e15 + 0.5,
        "99999999999999",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | text
    | edges
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)

EXAMPLES = {
    "meta": [
        ex.meta_body(
            "page",
            [
                ex.page_entry(
                    changes=[ex.feed_change(), ex.feed_change(verb="edited")],
                    messaging=[
                        ex.messenger_message(
                            attachments=[{"type": "image", "payload": {"url": "u"}}], reply_to="m0"
                        )
                    ],
                )
            ],
        ),
        ex.meta_body("instagram", [ex.instagram_comment_entry()]),
        ex.meta_body(
            "whatsapp_business_account",
            [
                ex.whatsapp_entry(
                    [
                        ex.whatsapp_text(),
                        {
                            "from": "1",
                            "id": "i",
                            "timestamp": "1",
                            "type": "image",
                            "image": {"id": "9", "mime_type": "image/png"},
                            "context": {"id": "c"},
                        },
                    ],
                    statuses=[ex.whatsapp_status()],
                )
            ],
        ),
    ],
    "x": [
        {
            "for_user_id": "2244994945",
            "tweet_create_events": [ex.x_tweet()],
            "direct_message_events": [ex.x_dm()],
            "users": {"3001": ex.x_user()},
            "tweet_delete_events": [{"status": {"id": "1", "user_id": "2"}, "timestamp_ms": "1"}],
        }
    ],
    "telegram": [
        ex.telegram_update(),
        ex.telegram_update(kind="channel_post", chat_type="channel"),
    ],
}
PARSERS = {
    "meta": lambda d: meta.parse(d, CTX),
    "x": lambda d: xaa.parse(d, CTX),
    "telegram": lambda d: telegram.parse(d, CTX, "bot"),
}


def _paths(node, prefix=()):
    yield prefix
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated(draw, platform: str):
    """A documented payload with one node (or the whole) replaced by arbitrary JSON, or removed."""
    return mutate(draw, draw(st.sampled_from(EXAMPLES[platform])))


def mutate(draw, original):
    """A copy of ``original`` with one node (or the whole) replaced by arbitrary JSON, or removed."""
    document = copy.deepcopy(original)
    path = draw(st.sampled_from(list(_paths(document))))
    if not path:
        return draw(json_values)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return document


def _total(platform: str, document) -> None:
    try:
        parsed = PARSERS[platform](document)
    except REFUSALS:
        return
    assert all(
        item.dedup_key.startswith(
            ("facebook", "messenger", "instagram", "whatsapp", "x", "telegram")
        )
        for item in parsed.items
    )


@PROPERTY
@given(platform=st.sampled_from(sorted(PARSERS)), document=json_values)
def test_arbitrary_json_is_parsed_or_refused(platform, document):
    _total(platform, document)


@PROPERTY
@given(data=st.data(), platform=st.sampled_from(sorted(PARSERS)))
def test_documented_payloads_with_a_hostile_node_are_parsed_or_refused(data, platform):
    _total(platform, data.draw(mutated(platform)))


@PROPERTY
@given(
    body=st.binary(max_size=300)
    | st.builds(
        lambda a, b, c: a + b + c,
        st.binary(max_size=20),
        st.sampled_from([ex.youtube_atom(), ex.youtube_deleted()]),
        st.binary(max_size=20),
    ),
    cut=st.integers(0, 2000),
)
def test_atom_bytes_are_parsed_or_refused(body, cut):
    for candidate in (body, body[:cut]):
        try:
            youtube.parse_atom(candidate)
        except (youtube.MalformedXml, PayloadInvalid):
            pass
