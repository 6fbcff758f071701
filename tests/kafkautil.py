"""Small helpers for tests that talk to the real broker."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared import codec
from shared.events import Envelope
from shared.kafka import topic_partitions


async def produce(bootstrap: str, topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            enc = codec.encode(event)
            await producer.send_and_wait(topic, enc.value, key=enc.key, headers=enc.headers)
    finally:
        await producer.stop()


async def produce_raw(
    bootstrap: str, topic: str, value: bytes | None, headers=(), key: bytes | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=list(headers))
    finally:
        await producer.stop()


async def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """The sum of ``group``'s committed offsets over ``topic``'s partitions (0 where none)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return sum(
            [await consumer.committed(tp) or 0 for tp in await topic_partitions(consumer, topic)]
        )
    finally:
        await consumer.stop()


async def collect(
    bootstrap: str, topic: str, count: int, timeout: float = 30.0, settle: float = 0.0
) -> list:
    """Read ``topic`` from the start until ``count`` records arrived (then ``settle`` more
    seconds to catch extras) or ``timeout``. Uses manual assignment: no group join wait."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"collect-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    records: list = []
    try:
        partitions = await topic_partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        settle_until = None
        while time.monotonic() < deadline:
            if len(records) >= count and settle_until is None:
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


def decoded(records) -> list[Envelope]:
    return [codec.decode(r.headers, r.value) for r in records]
