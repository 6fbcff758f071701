"""Payload parsing and normalisation into ``CanonicalMessage`` (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.ingestor.platforms.standard_payload import (
    GenericMessage,
    MessageCreated,
    WebhookEnvelope,
    to_canonical,
)
from services.ingestor.shapes import MalformedJson, parse_json
from shared.events import ChannelKind, Platform
from tests.ingestor_support.webhooks import example_event


def test_a_generic_message_normalises_into_a_canonical_message():
    data = example_event(message_id="m-1", language="de", permalink="https://x.test/1")["data"]
    message = to_canonical(GenericMessage.model_validate(data), "demo")
    assert message.source == "demo"
    assert (
        message.platform is Platform.GENERIC and message.channel_kind is ChannelKind.DIRECT_MESSAGE
    )
    assert message.platform_message_id == "m-1" and message.language_hint == "de"
    assert message.created_at == datetime(2026, 1, 2, 9, 59, 58, tzinfo=UTC)
    assert message.author.follower_count == 12 and message.permalink == "https://x.test/1"
    assert message.message_key == "generic:acme:m-1"
    assert message.conversation_key == "generic:acme:conv-1"


def test_platform_defaults_to_generic_and_unknown_fields_are_ignored():
    data = {k: v for k, v in example_event()["data"].items() if k != "platform"}
    message = GenericMessage.model_validate({**data, "future_field": 1})
    assert message.platform is Platform.GENERIC


@pytest.mark.parametrize(
    "override, field",
    [
        ({"created_at": "2026-01-02T09:59:58"}, "created_at"),  # naive: refused
        ({"account_id": "acme\x00"}, "account_id"),
        ({"message_id": ""}, "message_id"),
        ({"platform": "myspace"}, "platform"),
        ({"author": {"id": "u", "follower_count": 2**64}}, "author.follower_count"),
        ({"text": "x" * 100_001}, "text"),
    ],
)
def test_invalid_fields_are_named(override, field):
    with pytest.raises(ValidationError) as caught:
        GenericMessage.model_validate(example_event(**override)["data"])
    assert field in {".".join(map(str, e["loc"])) for e in caught.value.errors()}


def test_envelope_requires_a_type_and_leaves_data_to_the_type():
    with pytest.raises(ValidationError):
        WebhookEnvelope.model_validate({"data": {}})
    assert WebhookEnvelope.model_validate({"type": "x.y", "data": {}}).timestamp is None
    assert (
        WebhookEnvelope.model_validate({"type": "ping"}).data is None
    )  # a ping: acknowledged as ignored
    with pytest.raises(ValidationError):  # message.created still needs its data object
        MessageCreated.model_validate({"type": "message.created", "data": "text"})


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"", "line 1 column 1"),
        (b"{", "line 1 column 2"),
        (b"NaN", "line 1 column 1"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b"\xff", "UTF-8"),
        (b"[" * 5000, "depth"),
        (b'{"a": 1e400}', "infinity"),
    ],
)
def test_malformed_json_says_why(body, fragment):
    with pytest.raises(MalformedJson, match=fragment):
        parse_json(body)
