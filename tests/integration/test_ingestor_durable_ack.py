"""Ack means durable, against the real embedded broker: while the broker is away (or back but
empty) a delivery is answered 503 with Retry-After and nothing is recorded, no topic appears
by itself, and the SAME delivery re-sent once the registry's topics are back is accepted and
published exactly once, not answered "duplicate"."""

from __future__ import annotations

import asyncio
import time

from aiokafka.admin import AIOKafkaAdminClient

from services.ingestor.app import create_app
from shared import topics
from shared.broker import BrokerError
from shared.events import derived_id
from tests.ingestor_support.webhooks import example_event, running, signed
from tests.integration.test_ingestor_webhooks import SECRET, URL, ledger_rows, records, settings
from tools.devbroker import EmbeddedBroker, ensure_topics


def _restart(port: int, bound_s: float = 60.0) -> EmbeddedBroker:
    """A new (empty) broker on ``port``, retried while the old one's port is still held."""
    deadline = time.monotonic() + bound_s
    while True:
        try:
            return EmbeddedBroker(port=port).start()
        except BrokerError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


async def _topic_names(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


async def test_a_delivery_refused_while_the_broker_is_away_is_accepted_once_when_resent(
    sqlite_url, namespace
):
    broker = EmbeddedBroker().start()
    port = broker.bootstrap_servers
    config = settings(port, namespace, sqlite_url).model_copy(update={"produce_timeout_s": 3.0})
    raw, headers = signed(SECRET, example_event(message_id="m-durable"), webhook_id="msg_dur")
    try:
        await ensure_topics(port, namespace)
        async with running(create_app(config)) as client:
            broker.stop()  # its memory (every topic) goes with it
            away = await client.post(URL, content=raw, headers=headers)
            assert away.status_code == 503 and away.headers["retry-after"].isdigit()
            assert away.json()["error"] == "broker_unavailable"
            assert ledger_rows(sqlite_url) == []

            broker = _restart(broker.port)  # back, but empty: the producer must not create
            empty = await client.post(URL, content=raw, headers=headers)
            assert empty.status_code == 503 and empty.headers["retry-after"].isdigit()
            assert ledger_rows(sqlite_url) == []
            assert topics.qualified(topics.RAW, namespace) not in await _topic_names(port)

            await ensure_topics(port, namespace)  # refuses a topic auto-created meanwhile
            deadline, again = time.monotonic() + 60, None
            while time.monotonic() < deadline:
                again = await client.post(URL, content=raw, headers=headers)
                if again.status_code != 503:
                    break
                assert ledger_rows(sqlite_url) == []  # a 503 never records the dedup row
                await asyncio.sleep(0.5)
            event_id = derived_id("generic:acme:m-durable", "ingestor")
            assert again is not None and again.status_code == 202
            assert again.json() == {"status": "accepted", "event_id": event_id}
            duplicate = await client.post(URL, content=raw, headers=headers)
            assert duplicate.status_code == 200 and duplicate.json()["status"] == "duplicate"
        assert len(await records(port, topics.RAW, namespace, settle_s=1.0)) == 1
        assert ledger_rows(sqlite_url) == [("generic:acme:m-durable", event_id, "msg_dur")]
    finally:
        broker.stop()


async def test_a_delivery_published_but_not_recorded_is_answered_503_and_the_resend_recorded_once(
    kafka_bootstrap, topics_ready, sqlite_url, monkeypatch
):
    """The ledger keeps every accepted event for re-publishing after a broker that lost its
    memory: an event the broker acknowledged but the ledger could not record is not answered
    2xx (the platform sends again); the re-send publishes the same event id and is recorded.
    The ledger's failure is injected (one failing commit) beside the real broker and SQLite."""
    from services.ingestor.ledger import LedgerUnavailable
    from services.ingestor.recorder import Recorder

    real, failures = Recorder.record, []

    async def fails_once(self, rows, raw):
        if not failures:
            failures.append(len(rows))
            raise LedgerUnavailable("database is shut down")
        return await real(self, rows, raw)

    monkeypatch.setattr(Recorder, "record", fails_once)
    raw, headers = signed(SECRET, example_event(message_id="m-unrecorded"), webhook_id="msg_unr")
    async with running(create_app(settings(kafka_bootstrap, topics_ready, sqlite_url))) as client:
        first = await client.post(URL, content=raw, headers=headers)
        assert first.status_code == 503 and first.headers["retry-after"].isdigit()
        assert first.json()["error"] == "database_unavailable"
        assert ledger_rows(sqlite_url) == []
        again = await client.post(URL, content=raw, headers=headers)
        assert again.status_code == 202
    event_id = derived_id("generic:acme:m-unrecorded", "ingestor")
    assert failures == [1]
    assert ledger_rows(sqlite_url) == [("generic:acme:m-unrecorded", event_id, "msg_unr")]
    published = await records(kafka_bootstrap, topics.RAW, topics_ready, settle_s=1.0)
    # published twice under one event id: every consumer deduplicates the second copy
    assert len(published) == 2 and {dict(r.headers)["ce_id"].decode() for r in published} == {
        event_id
    }
