"""The ingestor against the real broker and databases (SQLite and PostgreSQL): 202 only after
the ack, exactly one record per platform message, dead-lettered unknown types, 503 when Kafka
or the database is away."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from services.ingestor.app import create_app
from services.ingestor.settings import IngestorSettings
from shared import topics
from shared.codec import decode, header
from shared.db import sync_url
from shared.events import MessageReceived, derived_id
from tests.ingestor_support.webhooks import example_event, running, signed, wait_ready
from tools.devbroker import EmbeddedBroker, ensure_topics, free_port

SECRET = "whsec_" + base64.b64encode(b"integration-test-secret-42").decode()
URL = "/v1/webhooks/standard/shop"


def settings(bootstrap: str, namespace: str, database_url: str) -> IngestorSettings:
    return IngestorSettings(
        environment="test",
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        database_url=database_url,
        webhook_secrets={"shop": SecretStr(SECRET)},
        produce_timeout_s=5.0,
    )


async def records(
    bootstrap: str, name: str, namespace: str, settle_s: float = 0.5, timeout_s: float = 10.0
):
    """Every record on registered topic ``name`` under ``namespace``: read until at least one
    arrived and ``settle_s`` passed without more (or ``timeout_s``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(namespace + name, p) for p in range(topics.spec(name).partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found, deadline, quiet_since = [], time.monotonic() + timeout_s, time.monotonic()
        while time.monotonic() < deadline and not (
            found and time.monotonic() - quiet_since > settle_s
        ):
            batch = [r for rs in (await consumer.getmany(timeout_ms=100)).values() for r in rs]
            if batch:
                found.extend(batch)
                quiet_since = time.monotonic()
        return found
    finally:
        await consumer.stop()


def rows(database_url: str, query: str) -> list[tuple]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query)))
    finally:
        engine.dispose()


def ledger_rows(database_url: str) -> list[tuple]:
    return rows(database_url, "SELECT message_key, event_id, webhook_id FROM ingested_messages")


@pytest.fixture
async def client(kafka_bootstrap, topics_ready, database_url):
    async with running(create_app(settings(kafka_bootstrap, topics_ready, database_url))) as client:
        yield client


async def test_a_signed_message_is_acknowledged_then_on_the_raw_topic(
    client, kafka_bootstrap, namespace, database_url
):
    raw, headers = signed(SECRET, example_event(message_id="m-1"), webhook_id="msg_first")
    response = await client.post(URL, content=raw, headers=headers)
    assert response.status_code == 202
    event_id = derived_id("generic:acme:m-1", "ingestor")
    assert response.json() == {"status": "accepted", "event_id": event_id}
    [record] = await records(kafka_bootstrap, topics.RAW, namespace)
    event = decode(record.headers, record.value)
    assert isinstance(event, MessageReceived) and event.id == event_id
    assert event.correlation_id == "msg_first" and event.source == "switchboard/ingestor/shop"
    assert record.key == b"generic:acme:conv-1" and event.data.source == "shop"
    assert ledger_rows(database_url) == [("generic:acme:m-1", event_id, "msg_first")]


async def test_the_same_message_twice_is_one_record(
    client, kafka_bootstrap, namespace, database_url
):
    raw, headers = signed(SECRET, example_event(message_id="m-2"))
    first = await client.post(URL, content=raw, headers=headers)
    again = await client.post(URL, content=raw, headers=headers)
    raw, headers = signed(SECRET, example_event(message_id="m-2"))  # re-sent under a new webhook-id
    resent = await client.post(URL, content=raw, headers=headers)
    assert first.status_code == 202
    assert again.status_code == resent.status_code == 200
    assert (
        again.json()
        == {"status": "duplicate", "event_id": first.json()["event_id"]}
        == resent.json()
    )
    assert len(await records(kafka_bootstrap, topics.RAW, namespace, settle_s=1.0)) == 1
    assert len(ledger_rows(database_url)) == 1


async def test_an_unhandled_event_type_is_accepted_and_dead_lettered(
    client, kafka_bootstrap, namespace, database_url
):
    raw, headers = signed(
        SECRET, {"type": "message.deleted", "data": {"id": "m-3"}}, webhook_id="msg_del"
    )
    response = await client.post(URL, content=raw, headers=headers)
    assert response.status_code == 202
    assert response.json() == {
        "status": "ignored",
        "reason": "unhandled_event_type",
        "type": "message.deleted",
    }
    [record] = await records(kafka_bootstrap, topics.spec(topics.RAW).dlq, namespace)
    assert record.value == raw and record.key == b"msg_del"
    assert header(record.headers, "dlq.reason") == "unhandled_event_type"
    assert "message.deleted" in header(record.headers, "dlq.error")
    assert header(record.headers, "dlq.source.webhook") == "shop"
    assert ledger_rows(database_url) == []


async def test_broker_unavailable_is_503_with_retry_after_and_nothing_recorded(database_url):
    app = create_app(settings(f"127.0.0.1:{free_port()}", "", database_url))
    async with running(app, ready_timeout_s=None) as client:
        raw, headers = signed(SECRET, example_event())
        response = await client.post(URL, content=raw, headers=headers)
        ready = await client.get("/readyz")
    assert response.status_code == 503 and response.headers["retry-after"].isdigit()
    assert response.json()["error"] == "broker_unavailable"
    assert ready.status_code == 503
    assert ledger_rows(database_url) == []


async def test_database_unavailable_is_503(kafka_bootstrap, topics_ready):
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    async with running(
        create_app(settings(kafka_bootstrap, topics_ready, url)), ready_timeout_s=None
    ) as client:
        raw, headers = signed(SECRET, example_event())
        response = await client.post(URL, content=raw, headers=headers)
        await asyncio.sleep(0.2)
        ready = await client.get("/readyz")
    assert response.status_code == 503 and response.json()["error"] == "database_unavailable"
    assert "retry-after" in response.headers and ready.status_code == 503


async def test_a_broker_that_comes_up_later_is_connected_without_a_restart(sqlite_url, namespace):
    broker = EmbeddedBroker()
    app = create_app(settings(broker.bootstrap_servers, namespace, sqlite_url))
    try:
        async with running(app, ready_timeout_s=None) as client:
            await asyncio.sleep(0.3)
            assert (await client.get("/readyz")).status_code == 503
            broker.start()
            await ensure_topics(broker.bootstrap_servers, namespace)
            await wait_ready(client, 15)
            raw, headers = signed(SECRET, example_event())
            assert (await client.post(URL, content=raw, headers=headers)).status_code == 202
    finally:
        broker.stop()  # after the producer closed: Tansu lingers on SIGTERM while clients are connected
