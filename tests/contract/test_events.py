"""Event contracts: committed schemas and examples match the models; the Kafka binding
round-trips; breaking changes are caught."""

import json

import jsonschema
import pytest

from shared import codec, schemagen, topics
from shared.events import EVENT_TYPES, MessageReceived


def test_committed_schemas_and_examples_are_current():
    stale = [
        p.name for p, text in schemagen.generated().items() if p.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `python -m shared.schemagen` and commit the result"


@pytest.mark.parametrize("event", schemagen.example_events(), ids=lambda e: e.TYPE)
def test_example_validates_against_committed_schema(event):
    schema = json.loads((schemagen.HERE / "schemas" / f"{event.TYPE}.json").read_text())
    example = json.loads((schemagen.HERE / "examples" / f"{event.TYPE}.json").read_text())
    jsonschema.validate(example, schema)
    assert EVENT_TYPES[event.TYPE].model_validate(example) == event


@pytest.mark.parametrize("event", schemagen.example_events(), ids=lambda e: e.TYPE)
def test_kafka_binding_round_trips(event):
    encoded = codec.encode(event)
    assert encoded.key == event.subject.encode()
    assert codec.header(encoded.headers, "ce_type") == event.TYPE
    assert codec.header(encoded.headers, "ce_id") == event.id
    assert codec.decode(encoded.headers, encoded.value) == event


def test_type_names_are_versioned_and_past_tense():
    for name in EVENT_TYPES:
        parts = name.split(".")
        assert parts[0] == "switchboard" and parts[-1].startswith("v") and parts[-1][1:].isdigit()
        assert parts[-2].endswith("ed") or parts[-2] == "sent", name


def test_every_registered_topic_carries_a_known_event_type():
    for spec in topics.registry():
        if spec.is_dlq:
            assert spec.event_type == "any"
        else:
            assert spec.event_type in EVENT_TYPES, spec.name
            assert spec.dlq and topics.spec(spec.dlq).is_dlq


def test_removing_a_required_field_breaks_validation():
    example = json.loads((schemagen.HERE / "examples" / f"{MessageReceived.TYPE}.json").read_text())
    del example["data"]["platform_message_id"]
    schema = json.loads((schemagen.HERE / "schemas" / f"{MessageReceived.TYPE}.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example, schema)


@pytest.mark.parametrize(
    "headers,value,reason",
    [
        ([], b"{}", "missing ce_type"),
        ([("ce_type", b"switchboard.nope.v9")], b"{}", "unsupported event type"),
        ([("ce_type", MessageReceived.TYPE.encode())], b"\xff\xfe", "not JSON"),
        ([("ce_type", MessageReceived.TYPE.encode())], b'{"text": 1}', "invalid"),
        ([("ce_type", MessageReceived.TYPE.encode())], None, "empty value"),
    ],
)
def test_poison_messages_are_named(headers, value, reason):
    with pytest.raises(codec.PoisonMessage, match=reason):
        codec.decode(headers, value)
