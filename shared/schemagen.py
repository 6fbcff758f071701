"""Committed event schemas and example payloads.

``python -m shared.schemagen`` writes ``shared/schemas/<type>.json`` (JSON Schema of the full
envelope) and ``shared/examples/<type>.json`` (one example event). CI checks the committed
files equal what the models generate and that every example validates, so a contract never
changes by accident. ``--check`` exits 1 on any difference.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.events import (
    EVENT_TYPES, Author, CanonicalMessage, ChannelKind, Classification, Classified, Decision,
    Envelope, Explanation, ItemRouted, MessageClassified, MessageReceived, Page, PageSent,
    Platform, Routed, Routing, Urgency, derived_id,
)

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 21, 22, 15, 0, tzinfo=UTC)


def example_events() -> list[Envelope]:
    """One realistic example of every event type, chained as the pipeline would produce them."""
    message = CanonicalMessage(
        platform=Platform.FACEBOOK, channel_kind=ChannelKind.PUBLIC_COMMENT, source="meta-page",
        account_id="page-1029", conversation_id="post-77_c-1", platform_message_id="c-1",
        author=Author(id="u-381", handle="jana.k", display_name="Jana K.", follower_count=212),
        text="Meine Bestellung ist seit zwei Wochen nicht angekommen. Wer hilft mir?",
        language_hint="de", created_at=T0, permalink="https://facebook.com/page-1029/posts/77?c=1",
    )
    received = MessageReceived(id=derived_id(message.message_key, "ingestor"), source="switchboard/ingestor/meta-page",
                               time=T0, correlation_id="msg_2b7", subject=message.conversation_key, data=message)
    classification = Classification(
        decision=Decision.REPLY, language="de", tags=("question", "delivery"), urgency=Urgency.NORMAL,
        reason="rule de.reply.question fired; spam score 0.03 below 0.50",
        explanation=Explanation(rule_ids=("de.reply.question",), model="spam", model_version="spam-v1",
                                score=0.03, threshold=0.5, evidence=("Wer hilft mir?",)),
    )
    classified = MessageClassified(id=derived_id(received.id, "classifier"), source="switchboard/classifier",
                                   time=T0 + timedelta(milliseconds=40), correlation_id=received.correlation_id,
                                   subject=received.subject, data=Classified(message=message, classification=classification))
    routing = Routing(queue="support-de", priority=50, sla_deadline=T0 + timedelta(minutes=60),
                      routed_at=T0 + timedelta(milliseconds=80), policy="fixed-v1")
    routed = ItemRouted(id=derived_id(classified.id, "router"), source="switchboard/router", time=routing.routed_at,
                        correlation_id=received.correlation_id, subject=received.subject,
                        data=Routed(message=message, classification=classification, routing=routing))
    page = Page(incident_key=message.conversation_key, item_event_id=routed.id, queue="support-de",
                target="oncall-http", summary="[normal] support-de: facebook public_comment — Meine Bestellung …",
                sent_at=T0 + timedelta(milliseconds=120), message_key=message.message_key)
    sent = PageSent(id=derived_id(routed.id, "notifier:oncall-http"), source="switchboard/notifier",
                    time=page.sent_at, correlation_id=received.correlation_id, subject=page.incident_key, data=page)
    return [received, classified, routed, sent]


def generated() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for type_name, cls in EVENT_TYPES.items():
        schema = cls.model_json_schema(mode="serialization")
        schema["$id"] = f"https://switchboard.dev/schemas/{type_name}.json"
        schema["title"] = type_name
        files[HERE / "schemas" / f"{type_name}.json"] = _dump(schema)
    for event in example_events():
        files[HERE / "examples" / f"{event.TYPE}.json"] = _dump(event.model_dump(mode="json"))
    return files


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    stale = [p for p, text in generated().items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"stale: {path.relative_to(HERE.parent)} (run python -m shared.schemagen)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(generated())} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
