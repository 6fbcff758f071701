"""The helpdesk contract: the committed AsyncAPI document is what the models generate, names
the registered topics, and every example payload validates against its message schema."""

import json

import jsonschema
import pytest

from services.router import asyncapi
from shared import topics


def test_committed_asyncapi_document_is_current():
    assert asyncapi.main(["--check"]) == 0, (
        "run `python -m services.router.asyncapi` and commit the result"
    )


def test_channels_are_registered_topics_with_the_documented_event_type():
    doc = json.loads(asyncapi.OUT.read_text())
    for channel in doc["channels"].values():
        address = channel["address"]
        if "{queue}" in address:  # the per-queue copies: one topic per queue of the routing file
            queues = channel["parameters"]["queue"]["examples"]
            assert queues and {
                topics.per_queue_parent(address.replace("{queue}", q)).name for q in queues
            } == {topics.ROUTED}
            address = topics.ROUTED
        spec = topics.spec(address)
        [message] = channel["messages"]
        assert doc["components"]["messages"][message]["name"] == spec.event_type
    assert {op["action"] for op in doc["operations"].values()} == {"send", "receive"}


@pytest.mark.parametrize(
    "name", ["ItemRouted", "ItemAssigned", "ReplyReleased", "HelpdeskItemUpdated"]
)
def test_examples_validate_against_the_message_payload_schema(name):
    doc = json.loads(asyncapi.OUT.read_text())
    message = doc["components"]["messages"][name]
    schema = {**message["payload"], "components": doc["components"]}
    assert message["examples"]
    for example in message["examples"]:
        jsonschema.validate(example["payload"], schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"unexpected": True}, schema)
