"""The helpdesk contract as an AsyncAPI 3.0 document, generated from the event models and the
topic registry: what a helpdesk receives from the router (routed items, on the main topic or
on their queue's own topic; assignments; released replies) and what it sends back (lifecycle
updates). The Kafka value is the event's ``data`` as JSON; the CloudEvents attributes travel as
``ce_*`` headers (binary mode).

``python -m services.router.asyncapi`` writes ``services/router/contract/asyncapi.json``;
``--check`` exits 1 when the committed file differs (a test runs it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic.json_schema import models_json_schema

from shared import schemagen, topics
from shared.events import HelpdeskItemUpdated, ItemAssigned, ItemRouted, ReplyReleased

OUT = Path(__file__).resolve().parent / "contract" / "asyncapi.json"
# channel id -> (event class, what the helpdesk does with it)
CHANNELS = {
    "routed": (ItemRouted, "receive"),
    "assigned": (ItemAssigned, "receive"),
    "released": (ReplyReleased, "receive"),
    "lifecycle": (HelpdeskItemUpdated, "send"),
}
TOPIC_OF = {
    ItemRouted: topics.ROUTED,
    ItemAssigned: topics.ASSIGNED,
    ReplyReleased: topics.RELEASED,
    HelpdeskItemUpdated: topics.LIFECYCLE,
}
HEADERS = {
    "type": "object",
    "required": ["ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion"],
    "properties": {
        name: {"type": "string", "description": text}
        for name, text in (
            ("ce_id", "Event id; consumers deduplicate on it"),
            ("ce_type", "Versioned event type"),
            ("ce_source", "Producer"),
            ("ce_time", "RFC 3339 time"),
            ("ce_specversion", "1.0"),
            ("ce_subject", "The Kafka key (conversation or queue)"),
            ("ce_correlationid", "Correlation id"),
            ("content-type", "application/json"),
        )
    },
}


def document() -> dict:
    data_models = [
        (cls.model_fields["data"].annotation, "serialization") for cls, _ in CHANNELS.values()
    ]
    refs, schema = models_json_schema(data_models, ref_template="#/components/schemas/{model}")
    examples = {type(e): e for e in schemagen.example_events()}
    channels, operations, messages = {}, {}, {}
    for cid, (cls, action) in CHANNELS.items():
        spec, name = topics.spec(TOPIC_OF[cls]), cls.__name__
        channels[cid] = {
            "address": spec.name,
            "description": spec.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"{action}_{cid}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"The helpdesk {action}s {cls.TYPE} (key: {spec.key})",
        }
        messages[name] = {
            "name": cls.TYPE,
            "contentType": "application/json",
            "headers": HEADERS,
            "payload": refs[(cls.model_fields["data"].annotation, "serialization")],
            "examples": [{"payload": examples[cls].data.model_dump(mode="json")}]
            if cls in examples
            else [],
        }
    routed = topics.spec(topics.ROUTED)
    channels["routedByQueue"] = {
        "address": f"{routed.name}.{{queue}}",
        "description": (
            f"{routed.description} One topic per queue (rule: `{routed.name}.<queue id>`; queue ids "
            "are lowercase letters, digits and '-'), created by the router from its routing "
            "configuration: the same event (same ce_id, key and headers) as on the main topic, "
            "for helpdesks that serve only some queues."
        ),
        "parameters": {
            "queue": {
                "description": "A queue id of the routing configuration (config/routing.yaml)",
                "examples": [q["id"] for q in _queues()],
            }
        },
        "messages": {ItemRouted.__name__: {"$ref": f"#/components/messages/{ItemRouted.__name__}"}},
    }
    operations["receive_routedByQueue"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/routedByQueue"},
        "summary": f"The helpdesk receives {ItemRouted.TYPE} of its queues only (key: {routed.key})",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Switchboard router ↔ helpdesk contract",
            "version": "1",
            "description": __doc__.split("\n\n")[0].replace("\n", " "),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schema.get("$defs", {})},
    }


def _queues() -> list[dict]:
    """The queues of the shipped routing file (examples of the per-queue channel parameter)."""
    import yaml

    path = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["queues"]


def rendered() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    current = OUT.read_text(encoding="utf-8") if OUT.exists() else None
    if "--check" in argv:
        if current != rendered():
            sys.stderr.write(f"stale: {OUT} (run python -m services.router.asyncapi)\n")
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(rendered(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
