"""aiokafka client factories with the project's delivery defaults.

Producers use ``acks=all`` (an event counts as accepted only once the broker has it) and no
idempotence (Tansu, the embedded broker, rejects it; duplicates are handled by idempotent
consumers instead); every request is bounded by ``KAFKA_REQUEST_TIMEOUT_MS``. Consumers never
auto-commit.

Neither ever creates a topic: topics come only from the registry (``shared.broker``). aiokafka
asks for auto-creation in every metadata request it sends (``allow_auto_topic_creation``, which
it does not expose), and both Tansu and Apache Kafka with ``auto.create.topics.enable`` honour
that, creating a missing topic with the broker's default partition count. Every client made here
asks without it, so a send to a missing topic fails (``UnknownTopicOrPartitionError``) and a
consumer finds no partitions, instead of a topic with the wrong shape appearing.
"""

from __future__ import annotations

import asyncio
import contextvars

import aiokafka.client
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.metadata import MetadataRequest

from shared.codec import Encoded
from shared.settings import CommonSettings, ConsumerSettings

_AUTO_CREATE = contextvars.ContextVar("switchboard_kafka_auto_create", default=True)


class _MetadataRequest(MetadataRequest):
    """aiokafka's metadata request, asking for no auto-creation inside ``_registry_only`` calls
    (and exactly as before everywhere else)."""

    def __init__(self, topics=None, allow_auto_topic_creation=None):
        if allow_auto_topic_creation is None and not _AUTO_CREATE.get():
            allow_auto_topic_creation = False
        super().__init__(topics, allow_auto_topic_creation)


aiokafka.client.MetadataRequest = _MetadataRequest  # the name AIOKafkaClient builds requests from


def registry_only(client: AIOKafkaClient) -> AIOKafkaClient:
    """Make ``client``'s metadata requests ask for no topic auto-creation (see the module doc)."""
    update = client._metadata_update  # noqa: SLF001 - aiokafka has no option for it

    async def without_auto_create(cluster_metadata, topics):
        token = _AUTO_CREATE.set(False)
        try:
            return await update(cluster_metadata, topics)
        finally:
            _AUTO_CREATE.reset(token)

    client._metadata_update = without_auto_create  # noqa: SLF001
    return client


def producer(settings: CommonSettings, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica (``acks=all``) and never creates topics."""
    made = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        max_request_size=16 * 1024 * 1024,
    )
    registry_only(made.client)
    return made


def consumer(settings: ConsumerSettings, *topics: str) -> AIOKafkaConsumer:
    """A consumer that never auto-commits and never creates topics (``allow_auto_create_topics``
    off, as the Java client's ``allow.auto.create.topics=false``)."""
    made = AIOKafkaConsumer(
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
    registry_only(made._client)  # noqa: SLF001 - aiokafka has no allow_auto_create_topics
    return made


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
