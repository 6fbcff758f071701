"""Delivery: no ack, no success. Fake producers stand in for a broker that hangs or refuses."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError

from services.ingestor.delivery import Delivery, DeliveryUnavailable
from services.ingestor.settings import IngestorSettings
from shared.codec import Encoded
from tools.devbroker import free_port

RECORD = Encoded(key=b"k", value=b"{}", headers=[])


class FakeProducer:
    """Starts fine; ``send`` returns a future the test controls."""

    def __init__(self, ack: asyncio.Future | None = None, fail_starts: int = 0) -> None:
        self.ack = ack
        self.fail_starts = fail_starts
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_starts:
            raise KafkaConnectionError("no broker")

    async def stop(self) -> None:
        pass

    async def send(self, topic, value=None, key=None, headers=None):
        return self.ack


def settings(**kw) -> IngestorSettings:
    return IngestorSettings(produce_timeout_s=0.2, **kw)


async def connected(producer: FakeProducer) -> Delivery:
    delivery = Delivery(settings(), max_backoff_s=0.01, producer_factory=lambda *_: producer)
    await asyncio.wait_for(delivery.connect_forever(), 2)
    return delivery


async def test_publish_before_connecting_is_unavailable():
    with pytest.raises(DeliveryUnavailable, match="not connected"):
        await Delivery(settings()).publish("t", RECORD, "raw")


async def test_an_ack_that_never_comes_times_out_as_unavailable():
    delivery = await connected(FakeProducer(ack=asyncio.get_running_loop().create_future()))
    with pytest.raises(DeliveryUnavailable, match="within 0.2s"):
        await delivery.publish("t", RECORD, "raw")


async def test_a_broker_error_on_the_ack_is_unavailable():
    ack = asyncio.get_running_loop().create_future()
    ack.set_exception(NotLeaderForPartitionError())
    delivery = await connected(FakeProducer(ack=ack))
    with pytest.raises(DeliveryUnavailable, match="NotLeaderForPartition"):
        await delivery.publish("t", RECORD, "raw")


async def test_publish_returns_once_acknowledged():
    ack = asyncio.get_running_loop().create_future()
    ack.set_result("metadata")
    delivery = await connected(FakeProducer(ack=ack))
    await delivery.publish("t", RECORD, "raw")


async def test_start_failures_are_retried_until_connected():
    producer = FakeProducer(fail_starts=3)
    delivery = await connected(producer)
    assert delivery.ready and producer.starts == 4


async def test_an_unreachable_broker_keeps_retrying_without_raising():
    delivery = Delivery(
        settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}"), max_backoff_s=0.05
    )
    task = asyncio.create_task(delivery.connect_forever())
    await asyncio.sleep(0.3)
    assert not task.done() and not delivery.ready
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await delivery.close()
