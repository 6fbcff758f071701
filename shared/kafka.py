"""aiokafka client factories with the project's delivery defaults.

Producers use ``acks=all`` (an event counts as accepted only once the broker has it) and no
idempotence (Tansu, the embedded broker, rejects it; duplicates are handled by idempotent
consumers instead). Consumers never auto-commit.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.codec import Encoded
from shared.settings import CommonSettings, ConsumerSettings


def producer(settings: CommonSettings, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        max_request_size=16 * 1024 * 1024,
    )


def consumer(settings: ConsumerSettings, *topics: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        client_id=settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_poll_records=settings.max_batch,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        request_timeout_ms=max(
            settings.kafka_request_timeout_ms, settings.session_timeout_ms + 5000
        ),
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )


async def send(producer_: AIOKafkaProducer, topic: str, message: Encoded):
    """Queue ``message`` for ``topic``; returns a future resolved when the broker acknowledged."""
    return await producer_.send(
        topic, value=message.value, key=message.key, headers=message.headers
    )


async def topic_partitions(
    consumer: AIOKafkaConsumer, topic: str, wait_s: float = 5.0
) -> list[TopicPartition]:
    """The partitions of ``topic`` as the broker reports them, refreshing metadata until they
    are known or ``wait_s`` passed. Raises ``LookupError`` when the topic does not exist."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, p) for p in sorted(partitions)]
        if asyncio.get_running_loop().time() > deadline:
            raise LookupError(f"topic {topic} does not exist")
        await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
        await asyncio.sleep(0.1)
