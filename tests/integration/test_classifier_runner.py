"""The classifier against the real broker: a message in, a classified event out, poison to the DLQ."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.classifier.app import build
from services.classifier.settings import ClassifierSettings
from shared import topics
from shared.codec import decode, encode, header
from shared.events import (
    Author,
    CanonicalMessage,
    Decision,
    MessageClassified,
    MessageReceived,
    Urgency,
    derived_id,
)

pytestmark = pytest.mark.kafka


def received() -> MessageReceived:
    message = CanonicalMessage(
        platform="facebook",
        channel_kind="public_comment",
        source="test",
        account_id="acme",
        conversation_id="post-1",
        platform_message_id="comment-1",
        author=Author(id="u1"),
        text="Ich will meine Kündigung, mein Anwalt meldet sich.",
        created_at=datetime.now(UTC),
    )
    return MessageReceived(
        id=str(uuid.uuid4()),
        source="test",
        time=datetime.now(UTC),
        correlation_id="corr-42",
        subject=message.conversation_key,
        data=message,
    )


async def produce(bootstrap: str, topic: str, event: MessageReceived) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            b"\x00not json",
            key=b"poison-key",
            headers=[("ce_type", b"switchboard.bogus.v9")],
        )
        encoded = encode(event)
        await producer.send_and_wait(topic, encoded.value, key=encoded.key, headers=encoded.headers)
    finally:
        await producer.stop()


async def collect(bootstrap: str, wanted: set[str], timeout: float = 30.0) -> dict:
    """The first record of each topic in ``wanted`` (raises TimeoutError when one is missing)."""
    consumer = AIOKafkaConsumer(
        *wanted, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: dict = {}
    try:
        async with asyncio.timeout(timeout):
            while set(found) != wanted:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    found.setdefault(tp.topic, records[0])
    finally:
        await consumer.stop()
    return found


async def test_runner_classifies_and_dead_letters(kafka_bootstrap, topics_ready, sqlite_url):
    namespace = topics_ready
    raw, dlq = topics.qualified(topics.RAW, namespace), topics.dlq_for(topics.RAW, namespace)
    classified = topics.qualified(topics.CLASSIFIED, namespace)
    settings = ClassifierSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=namespace,
        database_url=sqlite_url,
        consumer_group=f"{namespace}classifier",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    _, runner = build(settings)
    event = received()
    await produce(kafka_bootstrap, raw, event)
    task = asyncio.create_task(runner.run())
    try:
        found = await collect(kafka_bootstrap, {classified, dlq})
    finally:
        runner.stop()
        await asyncio.wait_for(task, timeout=30)
    out = decode(found[classified].headers, found[classified].value)
    assert isinstance(out, MessageClassified) and out.id == derived_id(event.id, "classifier")
    assert (out.correlation_id, out.subject, out.data.message) == (
        "corr-42",
        event.subject,
        event.data,
    )
    assert (out.data.classification.decision, out.data.classification.urgency) == (
        Decision.REPLY,
        Urgency.HIGH,
    )
    assert found[classified].key == event.subject.encode()
    poison = found[dlq]
    assert (poison.value, poison.key) == (b"\x00not json", b"poison-key")
    assert header(poison.headers, "dlq.source.topic") == raw
    assert header(poison.headers, "dlq.consumer.group") == settings.consumer_group
    assert header(poison.headers, "dlq.service") == "classifier"
    assert header(poison.headers, "dlq.error.type") == "PoisonMessage"
    assert "unsupported event type 'switchboard.bogus.v9'" in header(poison.headers, "dlq.error")
    assert (runner.state.processed, runner.state.dead_lettered, runner.state.status) == (
        1,
        1,
        "stopped",
    )
