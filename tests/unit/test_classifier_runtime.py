"""The classifier's stateful runtime and batch stage: campaigns, spikes, poison, order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.classifier.app import make_stage
from services.classifier.runtime import ClassifierRuntime
from services.classifier.serving.bundle import load_models
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.flood import CampaignDetector
from services.classifier.signals.spike import SpikeDetector
from shared import topics
from shared.codec import PoisonMessage
from shared.events import (
    Author,
    CanonicalMessage,
    Decision,
    MessageClassified,
    MessageReceived,
    Page,
    PageSent,
    WidespreadIssueDetected,
    derived_id,
)
from shared.runner import RecordMeta

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
COPYPASTA = (
    "Bring back the old design, the new one looks terrible and nobody asked for it {u} #bringitback"
)


@pytest.fixture(scope="module")
def models():
    return load_models(ClassifierSettings())


def message(i: int, text: str, author: str | None = None) -> CanonicalMessage:
    return CanonicalMessage(
        platform="facebook",
        channel_kind="public_comment",
        source="t",
        account_id="acme",
        conversation_id=f"post-{i}",
        platform_message_id=f"m{i}",
        author=Author(id=author or f"u{i}"),
        text=text,
        created_at=T0 + timedelta(seconds=i),
    )


def received(msg: CanonicalMessage) -> tuple[MessageReceived, RecordMeta]:
    event = MessageReceived(
        id=f"e-{msg.platform_message_id}",
        source="t",
        time=T0,
        correlation_id="c",
        subject=msg.conversation_key,
        data=msg,
    )
    return event, RecordMeta(topics.RAW, 0, int(msg.platform_message_id[1:]), None)


def test_a_campaign_is_tagged_then_dropped_above_the_author_limit(models):
    runtime = ClassifierRuntime(models, campaign_drop_authors=3)
    outcomes = runtime.process([message(i, COPYPASTA.format(u=f"@friend{i}")) for i in range(6)])
    campaign_tags = [
        [t for t in o.classification.tags if t.startswith("campaign:")] for o in outcomes
    ]
    assert campaign_tags[0] == [] and len({tag for tags in campaign_tags[1:] for tag in tags}) == 1
    decisions = [o.classification.decision for o in outcomes]
    assert (
        Decision.DROP not in decisions[:3] and decisions[3:] == [Decision.DROP] * 3
    )  # 4th author on
    dropped = outcomes[5].classification
    assert dropped.tags[0] == "spam" and "flood.campaign" in dropped.explanation.rule_ids
    assert "6 messages from 6 authors" in dropped.explanation.evidence[-1]
    assert "more than 3" in dropped.reason


def test_a_spike_of_one_contact_reason_raises_one_event(models):
    runtime = ClassifierRuntime(
        models, spikes=SpikeDetector(min_count=5, factor=4.0, warmup_windows=0)
    )
    texts = [
        f"The app is not working again on my phone number {i}, what is going on?" for i in range(8)
    ]
    spikes = [
        s for o in runtime.process([message(i, t) for i, t in enumerate(texts)]) for s in o.spikes
    ]
    assert ("tag:complaint", 5) in [(s.key, s.count) for s in spikes]
    assert all(s.account_id == "acme" for s in spikes)


async def test_stage_batch_answers_in_order_with_poison_and_spike_events(models):
    runtime = ClassifierRuntime(
        models, campaigns=CampaignDetector(), spikes=SpikeDetector(min_count=2, warmup_windows=0)
    )
    stage = make_stage(models, runtime)
    page = PageSent(
        id="p1",
        source="t",
        time=T0,
        correlation_id="c",
        data=Page(
            incident_key="k",
            item_event_id="e",
            queue="q",
            target="t",
            summary="s",
            sent_at=T0,
            message_key="m",
        ),
    )
    items = [
        received(message(1, "Where is my refund?")),
        (page, RecordMeta(topics.RAW, 0, 9, None)),
        received(message(2, "I still want my refund!")),
    ]
    first, poison, second = await stage.process_batch(items)
    assert isinstance(poison, PoisonMessage) and "switchboard.page.sent.v1" in str(poison)
    assert [o.topic for o in first] == [topics.CLASSIFIED]
    assert isinstance(first[0].event, MessageClassified) and first[0].event.id == derived_id(
        "e-m1", "classifier"
    )
    assert [o.topic for o in second] == [topics.CLASSIFIED, topics.SPIKED]
    spike = second[1].event
    assert isinstance(spike, WidespreadIssueDetected) and spike.data.key == "tag:refund"
    again = await make_stage(
        models, ClassifierRuntime(models, spikes=SpikeDetector(min_count=2, warmup_windows=0))
    ).process_batch(items)
    assert again[2][1].event.id == spike.id  # a replay raises the same event id
    with pytest.raises(PoisonMessage):
        await stage(page, RecordMeta(topics.RAW, 0, 9, None))


def test_near_duplicate_requests_for_help_are_never_dropped_as_a_campaign(models):
    runtime = ClassifierRuntime(models, campaign_drop_authors=2)
    texts = [f"Hello, my order {i} never arrived. Can you help me?" for i in range(6)]
    outcomes = runtime.process([message(i, t) for i, t in enumerate(texts)])
    assert all(o.classification.decision == Decision.REPLY for o in outcomes)
    assert all(any(t.startswith("campaign:") for t in o.classification.tags) for o in outcomes[1:])
