"""Topics only from the registry, against the real broker: no client of the project creates a
topic, and ``ensure_topics`` refuses an existing topic whose shape is not the registry's."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared import kafka, topics
from shared.broker import TopicMismatch
from shared.codec import Encoded
from shared.settings import CommonSettings, ConsumerSettings
from tools.devbroker import ensure_topics


async def _topic_names(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()  # all topics: asks for no single one, creates nothing
    finally:
        await admin.close()


async def _create(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, replication_factor=1)])
    finally:
        await admin.close()


async def test_a_topic_with_the_wrong_partition_count_is_refused(kafka_bootstrap, namespace):
    raw = topics.qualified(topics.RAW, namespace)
    await _create(kafka_bootstrap, raw, 1)
    with pytest.raises(TopicMismatch) as refused:
        await ensure_topics(kafka_bootstrap, namespace)
    assert str(refused.value) == (
        f"topic {raw} has 1 partition, the registry says 6: recreate it or fix topics.yaml"
    )


async def test_existing_topics_of_the_registry_shape_pass_again(kafka_bootstrap, namespace):
    first = await ensure_topics(kafka_bootstrap, namespace)
    assert await ensure_topics(kafka_bootstrap, namespace) == first
    assert set(first) <= set(await _topic_names(kafka_bootstrap))


async def test_a_send_to_a_missing_topic_fails_and_creates_nothing(kafka_bootstrap, namespace):
    missing = topics.qualified(topics.RAW, namespace)
    settings = CommonSettings(
        environment="test", kafka_bootstrap_servers=kafka_bootstrap, kafka_request_timeout_ms=2000
    )
    producer = kafka.producer(settings, "test-no-auto-create")
    await producer.start()
    try:
        with pytest.raises((KafkaError, TimeoutError)):
            acked = await asyncio.wait_for(
                kafka.send(producer, missing, Encoded(b"k", b"v", [])), 10
            )
            await asyncio.wait_for(acked, 10)
    finally:
        await producer.stop()
    assert missing not in await _topic_names(kafka_bootstrap)
    await ensure_topics(kafka_bootstrap, namespace)  # nothing of the wrong shape was left behind


async def test_a_consumer_of_a_missing_topic_creates_nothing(kafka_bootstrap, namespace):
    missing = topics.qualified(topics.CLASSIFIED, namespace)
    settings = ConsumerSettings(
        environment="test", kafka_bootstrap_servers=kafka_bootstrap, consumer_group=namespace + "g"
    )
    consumer = kafka.consumer(settings, missing)
    try:
        with pytest.raises(KafkaError):  # the runner retries its start until the topic exists
            await consumer.start()
    finally:
        await consumer.stop()
    reader = kafka.consumer(settings)  # no subscription: looks the topic up only
    await reader.start()
    try:
        with pytest.raises(LookupError):
            await kafka.topic_partitions(reader, missing, wait_s=1.0)
    finally:
        await reader.stop()
    assert missing not in await _topic_names(kafka_bootstrap)
