"""Re-publishing what the ingestor accepted, against the real embedded broker and SQLite and
PostgreSQL: after a broker restart that lost every topic, ``republish`` puts each accepted event
back on the raw topic exactly as it was first published (same id, key, headers and data), and
only those of the window asked for."""

from __future__ import annotations

from services.ingestor.app import create_app
from services.ingestor.republish import republish
from shared import codec, topics
from shared.events import utcnow
from tests.ingestor_support.webhooks import example_event, running, signed
from tests.integration.test_ingestor_webhooks import SECRET, URL, records, rows, settings
from tools.devbroker import EmbeddedBroker, ensure_topics


def _by_id(found) -> dict:
    return {codec.decode(r.headers, r.value).id: (r.key, r.value, list(r.headers)) for r in found}


async def test_accepted_events_are_published_again_as_they_were_after_the_broker_lost_them(
    database_url, namespace
):
    broker = EmbeddedBroker().start()
    config = settings(broker.bootstrap_servers, namespace, database_url)
    try:
        await ensure_topics(broker.bootstrap_servers, namespace)
        async with running(create_app(config)) as client:
            since = None
            for message_id in ("m-old", "m-a", "m-b"):
                raw, headers = signed(SECRET, example_event(message_id=message_id))
                assert (await client.post(URL, content=raw, headers=headers)).status_code == 202
                since = since or utcnow()  # after m-old was recorded, before the others
        first = _by_id(await records(broker.bootstrap_servers, topics.RAW, namespace))
        assert len(first) == 3
        assert len(rows(database_url, "SELECT event FROM ingested_messages")) == 3

        broker.stop()  # memory storage: every topic and record is gone
        broker = EmbeddedBroker(port=broker.port).start()
        await ensure_topics(broker.bootstrap_servers, namespace)
        assert await republish(config, since) == 2
        again = _by_id(await records(broker.bootstrap_servers, topics.RAW, namespace))
        assert len(again) == 2 and set(again) < set(first)
        assert all(again[event_id] == first[event_id] for event_id in again)
        assert await republish(config, utcnow()) == 0  # nothing accepted since
    finally:
        broker.stop()
