"""Delivery to Kafka: a producer (``acks=all``) that connects in the background and a
``publish`` that returns only once the broker acknowledged the record.

If Kafka is unreachable at start-up the service still starts: ``connect_forever`` retries with
backoff and ``ready`` stays false until a producer is up, so readiness (not a crash loop)
tells the orchestrator to wait.

A producer that failed a publish (an error or no ack within ``produce_timeout_s``) is replaced
by a fresh one (``connect_forever`` again; not ready meanwhile). Its cached metadata and queued
batches are not trusted: after a broker restart that lost its topics, a producer still holding
them had its retried batch, and the next record, "acknowledged" by the embedded broker into a
topic that no longer exists. A fresh producer looks the topic up again and, since no client
creates topics (``shared.kafka``), fails until the registry's topics are back. The old one is
stopped in the background within ``produce_timeout_s`` and its queued batches are dropped
(they were answered 503: the platform re-sends them); a request already in flight may still
land, a duplicate at worst (consumers are idempotent on the event id), never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.ingestor.metrics import PRODUCE_LATENCY
from services.ingestor.settings import IngestorSettings
from shared import kafka
from shared.codec import Encoded
from shared.logging import get_logger

log = get_logger(__name__)
CLIENT_ID = "switchboard-ingestor"


class DeliveryUnavailable(Exception):
    """The record was not acknowledged (no producer, broker error or ack timeout); retry later."""


class Delivery:
    """Owns the ingestor's single Kafka producer."""

    def __init__(
        self,
        settings: IngestorSettings,
        max_backoff_s: float = 5.0,
        producer_factory: Callable[..., AIOKafkaProducer] = kafka.producer,
    ) -> None:
        self._settings = settings
        self._max_backoff_s = max_backoff_s
        self._new_producer = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def connect_forever(self) -> None:
        """Start a producer, retrying with backoff until it connects. Cancel to give up."""
        backoff = 0.1
        while self._producer is None:
            candidate = self._new_producer(self._settings, CLIENT_ID)
            try:
                await candidate.start()
            except Exception as exc:  # noqa: BLE001 - any start failure is retried
                with contextlib.suppress(Exception):
                    await candidate.stop()
                log.warning("kafka.connect_failed", error=str(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            self._producer = candidate
            log.info("kafka.connected", bootstrap=self._settings.kafka_bootstrap_servers)

    async def close(self) -> None:
        """Flush what is in flight and stop the producer (if one was started)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    def _replace(self, failed: AIOKafkaProducer) -> None:
        """Drop ``failed`` (unless already replaced): stop it in the background and connect anew."""
        if self._producer is not failed:
            return
        self._producer = None
        log.warning("kafka.producer_replaced", reason="publish failed")
        for work, name in (
            (self._stop_quietly(failed), "kafka-stop-failed-producer"),
            (self.connect_forever(), "kafka-reconnect"),
        ):
            task = asyncio.create_task(work, name=name)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _stop_quietly(self, producer: AIOKafkaProducer) -> None:
        # drop what it still queues (answered 503: the platform re-sends it), then stop
        try:
            producer._message_accumulator.fail_all(KafkaError("producer replaced"))  # noqa: SLF001
            await asyncio.wait_for(producer.stop(), self._settings.produce_timeout_s)
        except Exception as exc:  # noqa: BLE001 - it is being thrown away
            log.info("kafka.stop_failed", error=type(exc).__name__)

    async def publish(self, topic: str, record: Encoded, kind: str) -> None:
        """Send ``record`` and wait for the ack (``produce_timeout_s``). Raises ``DeliveryUnavailable``.

        A timed-out record may still land later; that is a duplicate, never a loss, and
        consumers are idempotent on the event id.
        """
        producer = self._producer
        if producer is None:
            raise DeliveryUnavailable("not connected to Kafka yet")
        timeout = self._settings.produce_timeout_s
        started = time.perf_counter()
        outcome = "error"
        try:
            await asyncio.wait_for(_send_and_wait(producer, topic, record), timeout)
            outcome = "ok"
        except TimeoutError:
            self._replace(producer)
            raise DeliveryUnavailable(f"Kafka did not acknowledge within {timeout}s") from None
        except KafkaError as exc:
            self._replace(producer)
            raise DeliveryUnavailable(f"Kafka refused the record: {type(exc).__name__}") from exc
        finally:
            PRODUCE_LATENCY.labels(kind, outcome).observe(time.perf_counter() - started)


async def _send_and_wait(producer: AIOKafkaProducer, topic: str, record: Encoded) -> None:
    acked = await kafka.send(producer, topic, record)
    await acked
