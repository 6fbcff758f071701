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
    EVENT_TYPES,
    Assignment,
    Author,
    CanonicalMessage,
    ChannelKind,
    Classification,
    Classified,
    ContextMessage,
    CustomerContext,
    Decision,
    EarlierContacts,
    Envelope,
    Explanation,
    HelpdeskItemUpdated,
    ItemAssigned,
    ItemRouted,
    Lifecycle,
    LifecycleAction,
    MessageClassified,
    MessageReceived,
    Page,
    PageSent,
    Platform,
    QueueUnstaffed,
    ReplyRelease,
    ReplyReleased,
    Routed,
    Routing,
    Unstaffed,
    Urgency,
    derived_id,
)

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 21, 22, 15, 0, tzinfo=UTC)


def example_events() -> list[Envelope]:
    """One realistic example of every event type, chained as the pipeline would produce them."""
    message = CanonicalMessage(
        platform=Platform.FACEBOOK,
        channel_kind=ChannelKind.PUBLIC_COMMENT,
        source="meta-page",
        account_id="page-1029",
        conversation_id="post-77_c-1",
        platform_message_id="c-1",
        author=Author(id="u-381", handle="jana.k", display_name="Jana K.", follower_count=212),
        text="Meine Bestellung ist seit zwei Wochen nicht angekommen. Wer hilft mir?",
        language_hint="de",
        created_at=T0,
        permalink="https://facebook.com/page-1029/posts/77?c=1",
    )
    received = MessageReceived(
        id=derived_id(message.message_key, "ingestor"),
        source="switchboard/ingestor/meta-page",
        time=T0,
        correlation_id="msg_2b7",
        subject=message.conversation_key,
        data=message,
    )
    classification = Classification(
        decision=Decision.REPLY,
        language="de",
        tags=("question", "reason:question"),
        urgency=Urgency.NORMAL,
        reason="rule de.reply.question fired; spam score 0.03 below 0.50",
        explanation=Explanation(
            rule_ids=("de.reply.question",),
            model="spam",
            model_version="spam-v1",
            score=0.03,
            threshold=0.5,
            evidence=("Wer hilft mir?",),
        ),
    )
    classified = MessageClassified(
        id=derived_id(received.id, "classifier"),
        source="switchboard/classifier",
        time=T0 + timedelta(milliseconds=40),
        correlation_id=received.correlation_id,
        subject=received.subject,
        data=Classified(message=message, classification=classification),
    )
    routing = Routing(
        queue="support-de",
        priority=50,
        sla_deadline=T0 + timedelta(minutes=60),
        routed_at=T0 + timedelta(milliseconds=80),
        policy="fixed-v1",
        sla_started_at=T0,
        ingestion_delay_seconds=0.08,
    )
    context = CustomerContext(
        customer="facebook:u-381",
        conversation=(
            ContextMessage(
                at=T0 - timedelta(days=1),
                direction="inbound",
                author="u-381",
                text="Bestellung 4711 ist immer noch nicht da. Erreichbar unter +49*********89",
                sentiment="negative",
                message_key="facebook:page-1029:c-0",
            ),
        ),
        earlier_contacts=EarlierContacts(
            count=1,
            last_at=T0 - timedelta(days=12),
            last_reason="refund",
            last_outcome="resolved",
            last_satisfaction=4.0,
        ),
    )
    routed = ItemRouted(
        id=derived_id(classified.id, "router"),
        source="switchboard/router",
        time=routing.routed_at,
        correlation_id=received.correlation_id,
        subject=received.subject,
        data=Routed(
            message=message,
            classification=classification,
            routing=routing,
            context=context,
            suggested_templates=("de-bestellung", "de-allgemein"),
        ),
    )
    page = Page(
        incident_key=message.conversation_key,
        item_event_id=routed.id,
        queue="support-de",
        target="oncall-http",
        summary="[normal] support-de: facebook public_comment — Meine Bestellung …",
        sent_at=T0 + timedelta(milliseconds=120),
        message_key=message.message_key,
    )
    sent = PageSent(
        id=derived_id(routed.id, "notifier:oncall-http"),
        source="switchboard/notifier",
        time=page.sent_at,
        correlation_id=received.correlation_id,
        subject=page.incident_key,
        data=page,
    )
    return [
        received,
        classified,
        routed,
        sent,
        *router_examples(routed),
        *classifier_examples(message),
        *ingestor_examples(),
        correction_example(classified),
    ]


def ingestor_examples() -> list[Envelope]:
    """The ingestor's connector-health event: a source silent beyond its usual rhythm."""
    from shared.events import ConnectorState, ConnectorStatus, ConnectorStatusChanged

    status = ConnectorStatus(
        source="mastodon-support",
        platform="mastodon",
        state=ConnectorState.SILENT,
        last_event_at=T0 - timedelta(hours=3),
        silent_seconds=10800.0,
        expected_interval_seconds=3600.0,
        errors=4,
        detected_at=T0,
    )
    return [
        ConnectorStatusChanged(
            id=derived_id(f"{status.source}:{status.state}:{T0.isoformat()}", "ingestor:connector"),
            source="switchboard/ingestor",
            time=T0,
            correlation_id=status.source,
            subject=status.source,
            data=status,
        )
    ]


def correction_example(classified: MessageClassified) -> Envelope:
    """A helpdesk agent says a dropped message was not spam and needed a reply."""
    from shared.events import ClassificationCorrected, Correction, Decision

    msg = classified.data.message
    correction = Correction(
        message_key=msg.message_key,
        text=msg.text,
        language="de",
        decision=Decision.REPLY,
        tags=("contact_reason:delivery",),
        previous_decision=Decision.DROP,
        corrected_by="anna",
        origin="helpdesk",
        at=T0 + timedelta(minutes=20),
    )
    return ClassificationCorrected(
        id="hd-7731-not-spam",
        source="helpdesk/zammad",
        time=correction.at,
        correlation_id=classified.correlation_id,
        subject=msg.message_key,
        data=correction,
    )


def classifier_examples(message: CanonicalMessage) -> list[Envelope]:
    """The classifier's own event: a contact reason spiking on one account."""
    from shared.events import IssueSpike, WidespreadIssueDetected

    start = T0 - timedelta(minutes=5)
    spike = IssueSpike(
        key="tag:complaint",
        account_id=message.account_id,
        window_start=start,
        window_seconds=300,
        count=48,
        expected=3.2,
        threshold=12.8,
        sample_message_keys=(message.message_key,),
    )
    return [
        WidespreadIssueDetected(
            id=derived_id(
                f"{spike.account_id}:{spike.key}:{start.isoformat()}", "classifier:spike"
            ),
            source="switchboard/classifier",
            time=T0,
            correlation_id=message.message_key,
            subject=f"{spike.account_id}:{spike.key}",
            data=spike,
        )
    ]


def router_examples(routed: ItemRouted) -> list[Envelope]:
    """The router's own events about ``routed``: unstaffed, assigned, helpdesk update, reply released."""
    msg, at = routed.data.message, routed.data.routing.routed_at
    common = dict(
        source="switchboard/router",
        correlation_id=routed.correlation_id,
        subject=msg.conversation_key,
    )
    unstaffed = QueueUnstaffed(
        id=derived_id(routed.id, "router:unstaffed"),
        time=at,
        **{**common, "subject": "support-de"},
        data=Unstaffed(
            queue="support-de",
            item_id=routed.id,
            message_key=msg.message_key,
            sla_deadline=routed.data.routing.sla_deadline,
            waiting=1,
            online_agents=0,
            since=at,
        ),
    )
    assigned_at = at + timedelta(minutes=3)
    assigned = ItemAssigned(
        id=derived_id(routed.id, "router:assigned:anna"),
        time=assigned_at,
        **common,
        data=Assignment(
            item_id=routed.id,
            message_key=msg.message_key,
            conversation_key=msg.conversation_key,
            queue="support-de",
            agent_id="anna",
            cause="reoffered",
            assigned_at=assigned_at,
        ),
    )
    replied_at = at + timedelta(minutes=12)
    updated = HelpdeskItemUpdated(
        id="hd-7731-replied",
        source="helpdesk/zammad",
        time=replied_at,
        correlation_id=routed.correlation_id,
        subject=msg.conversation_key,
        data=Lifecycle(
            item_id=routed.id,
            action=LifecycleAction.REPLIED,
            at=replied_at,
            agent_id="anna",
            handling_seconds=240.0,
        ),
    )
    released = ReplyReleased(
        id=derived_id("draft-1", "router:released"),
        time=replied_at,
        **common,
        data=ReplyRelease(
            draft_id="draft-1",
            item_id=routed.id,
            message_key=msg.message_key,
            conversation_key=msg.conversation_key,
            author="tom",
            approver="anna",
            text="Das tut uns leid! Wir prüfen Ihre Bestellung sofort.",
            released_at=replied_at,
        ),
    )
    return [unstaffed, assigned, updated, released]


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
    stale = [
        p
        for p, text in generated().items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    if "--check" in argv:
        for path in stale:
            print(
                f"stale: {path.relative_to(HERE.parent)} (run python -m shared.schemagen)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(generated())} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
