"""The inbound endpoint's Kafka producer: ``publish`` returns only once the broker acknowledged
every record (``acks=all``), within ``timeout_s``; otherwise it raises ``Unavailable`` and the
endpoint answers 503 with ``Retry-After``, so the helpdesk re-sends. The producer starts on the
first publish (bounded too); one that failed is dropped and the next publish starts a fresh one
(a record that timed out may still land: a duplicate with the same id, which the consumers
ignore, never a loss)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from shared import kafka, topics
from shared.codec import encode
from shared.events import Envelope
from shared.logging import get_logger
from shared.settings import CommonSettings

log = get_logger(__name__)
CLIENT_ID = "switchboard-router-helpdesks"


class Unavailable(Exception):
    """The broker did not acknowledge in time (or could not be reached)."""


class Publisher:
    def __init__(self, settings: CommonSettings, timeout_s: float) -> None:
        self._settings, self._timeout_s = settings, timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def publish(self, topic: str, events: Sequence[Envelope]) -> None:
        """Send ``events`` to ``topic`` (namespaced) and wait for every ack. Raises ``Unavailable``."""
        if not events:
            return
        name = topics.qualified(topic, self._settings.kafka_topic_namespace)
        producer = await self._started()
        try:
            async with asyncio.timeout(self._timeout_s):
                acks = [await kafka.send(producer, name, encode(e)) for e in events]
                await asyncio.gather(*acks)
        except Exception as exc:  # noqa: BLE001 - any failure: not acknowledged
            await self._drop(producer)
            log.warning("router.helpdesk_publish_failed", error=type(exc).__name__)
            raise Unavailable(f"Kafka did not acknowledge within {self._timeout_s}s") from exc

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = kafka.producer(self._settings, CLIENT_ID)
            try:
                await asyncio.wait_for(producer.start(), self._timeout_s)
            except Exception as exc:  # noqa: BLE001 - unreachable, refused, timed out
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), self._timeout_s)
                raise Unavailable(f"Kafka is not reachable: {type(exc).__name__}") from exc
            self._producer = producer
            return producer

    async def _drop(self, producer: AIOKafkaProducer) -> None:
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), self._timeout_s)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self._timeout_s)
