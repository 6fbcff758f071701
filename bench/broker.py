"""Baselines on the bare broker: produce→consume rate and single-message round-trip latency."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tools.devbroker import ensure_topics


async def produce_consume_rate(bootstrap: str, count: int, size: int = 900) -> float:
    """Messages/s for producing ``count`` records (acks=all) and consuming them all back."""
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, namespace)
    topic = f"{namespace}switchboard.messages.raw.v1"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await producer.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        payload = b"x" * size
        started = time.perf_counter()
        futures = [
            await producer.send(topic, payload, key=str(i % 50).encode()) for i in range(count)
        ]
        await asyncio.gather(*futures)
        got = 0
        while got < count:
            batch = await consumer.getmany(timeout_ms=500)
            got += sum(len(r) for r in batch.values())
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def round_trip_latency(bootstrap: str, samples: int = 200) -> tuple[float, float]:
    """p50 and p99 seconds from send to receipt of single messages."""
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, namespace)
    topic = f"{namespace}switchboard.pages.sent.v1"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest", fetch_max_wait_ms=10
    )
    await producer.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        latencies = []
        for i in range(samples):
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"ping", key=str(i).encode())
            while not await consumer.getmany(timeout_ms=1000):
                pass
            latencies.append(time.perf_counter() - started)
        return statistics.median(latencies), _pct(latencies, 0.99)
    finally:
        await producer.stop()
        await consumer.stop()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
