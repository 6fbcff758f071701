"""The classifier's batch stage under the real runner and broker: a poll is classified
together, outputs keep per-partition order, poison is dead-lettered one by one, a spike
raises one WidespreadIssueDetected, and offsets are committed past everything."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.classifier.app import build
from services.classifier.settings import ClassifierSettings
from shared import schemagen, topics
from shared.events import (
    Author,
    CanonicalMessage,
    MessageClassified,
    MessageReceived,
    WidespreadIssueDetected,
)
from tests.kafkautil import collect, committed_total, decoded, produce, produce_raw

pytestmark = pytest.mark.kafka
T0 = datetime.now(UTC).replace(microsecond=0)


def received(i: int, text: str, conversation: str) -> MessageReceived:
    msg = CanonicalMessage(
        platform="facebook",
        channel_kind="public_comment",
        source="t",
        account_id="acme",
        conversation_id=conversation,
        platform_message_id=f"m{i}",
        author=Author(id=f"u{i}"),
        text=text,
        created_at=T0 + timedelta(seconds=i),
    )
    return MessageReceived(
        id=f"e-{uuid.uuid4().hex[:6]}-{i}",
        source="t",
        time=T0,
        correlation_id=f"c{i}",
        subject=msg.conversation_key,
        data=msg,
    )


async def test_a_poll_is_classified_together_in_order_with_poison_and_a_spike(
    kafka_bootstrap, topics_ready, sqlite_url
):
    ns = topics_ready
    raw = topics.qualified(topics.RAW, ns)
    settings = ClassifierSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=ns,
        database_url=sqlite_url,
        consumer_group=f"{ns}classifier",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        spike_min_count=4,
        spike_warmup_windows=0,
    )
    texts = [
        "Where is my refund for order {i}?",
        "I want a refund, order {i}",
        "danke!",
        "refund please #{i}",
    ]
    events = [
        received(i, texts[i % 4].format(i=i), conversation=f"post-{i % 2}") for i in range(12)
    ]
    await produce(kafka_bootstrap, raw, events[:6])
    await produce_raw(
        kafka_bootstrap, raw, b"\x00not json", headers=[("ce_type", MessageReceived.TYPE.encode())]
    )
    await produce(kafka_bootstrap, raw, [schemagen.example_events()[3]])  # a PageSent: wrong type
    await produce(kafka_bootstrap, raw, events[6:])
    _, runner = build(settings)
    task = asyncio.create_task(runner.run())
    try:
        classified = await collect(
            kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), 12, timeout=60
        )
        spiked = await collect(kafka_bootstrap, topics.qualified(topics.SPIKED, ns), 1, settle=1.0)
        dead = await collect(kafka_bootstrap, topics.dlq_for(topics.RAW, ns), 2)
    finally:
        runner.stop()
        await asyncio.wait_for(task, timeout=30)
    out = [e for e in decoded(classified) if isinstance(e, MessageClassified)]
    by_conversation = {
        c: [e.data.message.platform_message_id for e in out if e.data.message.conversation_id == c]
        for c in ("post-0", "post-1")
    }
    assert by_conversation == {
        c: [e.data.platform_message_id for e in events if e.data.conversation_id == c]
        for c in ("post-0", "post-1")
    }
    [spike] = decoded(spiked)
    assert isinstance(spike, WidespreadIssueDetected) and spike.data.key == "tag:refund"
    assert spike.data.count == 4 and spike.data.account_id == "acme"
    assert len(dead) == 2 and (runner.state.processed, runner.state.dead_lettered) == (12, 2)
    assert await committed_total(kafka_bootstrap, settings.consumer_group, raw) == 14
