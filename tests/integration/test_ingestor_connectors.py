"""Silent-connector detection on the real broker and both databases, with an injected clock:
a configured rhythm, a learned one (EWMA x factor, with a floor), recovery, error counts, and two
replicas noticing one silence publishing one event id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.ingestor.connectors import SilenceWatch
from services.ingestor.delivery import Delivery
from services.ingestor.health import SourceHealth
from services.ingestor.ledger import Ledger
from services.ingestor.settings import IngestorSettings
from shared import topics
from shared.codec import decode, header
from shared.events import ConnectorState, ConnectorStatusChanged
from tests.integration.test_ingestor_webhooks import records, rows

SOURCES = {"shop": "standard", "fedi": "mastodon"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def started(settings: IngestorSettings) -> Delivery:
    delivery = Delivery(settings)
    await delivery.connect_forever()
    return delivery


async def statuses(bootstrap: str, namespace: str) -> list:
    return await records(bootstrap, topics.CONNECTORS, namespace, settle_s=0.3, timeout_s=3)


async def test_silence_and_recovery_with_a_configured_and_a_learned_rhythm(
    kafka_bootstrap, topics_ready, database_url
):
    settings = IngestorSettings(
        environment="test",
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        kafka_topic_namespace=topics_ready,
        webhook_secrets={},
        source_expected_intervals={"shop": 600},
        silence_min_interval_s=120,
        silence_factor=6,
        silence_min_samples=3,
        silence_flush_s=5,
    )
    clock, ledger = Clock(), Ledger(database_url)
    delivery = await started(settings)
    health = SourceHealth(SOURCES, clock=lambda: clock().timestamp())
    watch = SilenceWatch(settings, ledger, delivery, SOURCES, clock=clock)
    replica = SilenceWatch(
        settings, ledger, delivery, SOURCES, clock=clock
    )  # a second ingestor replica
    health.listen(watch.observe)
    try:
        for _ in range(5):  # "fedi" delivers every 10 s (learned); "shop" once
            health.observe("fedi", "accepted", 1)
            await watch.flush()
            clock.advance(10)
        health.observe("shop", "accepted", 1)
        health.observe("fedi", "poll_error")  # counted as an error since fedi's last event
        await watch.flush(force=True)
        ewma, samples = rows(
            database_url,
            "SELECT ewma_interval_s, samples FROM connector_activity WHERE source='fedi'",
        )[0]
        assert samples == 4 and abs(ewma - 10.0) < 1e-6
        assert await watch.check() == []  # fedi: 10 s silent < max(120, 10 x 6); shop: 0 s < 600
        clock.advance(115)  # fedi silent 125 s > 120 (the floor, above the learned 60)
        silent = await watch.check()
        assert [
            (e.data.source, e.data.state, e.data.expected_interval_seconds, e.data.errors)
            for e in silent
        ] == [("fedi", ConnectorState.SILENT, 120.0, 1)]
        assert (
            await replica.check() == []
        )  # the state is shared: the other replica does not repeat it
        clock.advance(500)  # shop: 615 s > its configured 600
        shop = await replica.check()
        assert [(e.data.source, e.data.state, e.data.platform) for e in shop] == [
            ("shop", ConnectorState.SILENT, "standard")
        ]
        assert shop[0].data.silent_seconds == 615.0
        health.observe("fedi", "accepted", 2)
        await watch.flush()
        recovered = await watch.check()
        assert [(e.data.source, e.data.state) for e in recovered] == [
            ("fedi", ConnectorState.RECOVERED)
        ]
        published = [
            decode(r.headers, r.value) for r in await statuses(kafka_bootstrap, topics_ready)
        ]
        assert [(e.data.source, e.data.state) for e in published] == [
            ("fedi", "silent"),
            ("shop", "silent"),
            ("fedi", "recovered"),
        ]
        assert all(isinstance(e, ConnectorStatusChanged) for e in published)
        keys = {r.key for r in await statuses(kafka_bootstrap, topics_ready)}
        assert keys == {b"fedi", b"shop"}
    finally:
        await delivery.close()
        await ledger.close()


async def test_replicas_noticing_one_silence_publish_the_same_event_id(
    kafka_bootstrap, topics_ready, database_url
):
    settings = IngestorSettings(
        environment="test",
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        kafka_topic_namespace=topics_ready,
        webhook_secrets={},
        source_expected_intervals={"shop": 60},
    )
    clock, ledgers = Clock(), [Ledger(database_url), Ledger(database_url)]
    delivery = await started(settings)
    a, b = (SilenceWatch(settings, ledger, delivery, SOURCES, clock=clock) for ledger in ledgers)
    try:
        a.observe("shop", 1, False)
        await a.flush(force=True)
        clock.advance(61)
        first = await a.check()
        # the race: replica b read the row before a recorded the state, so b publishes too
        await _set_state(database_url, "shop", "ok")
        clock.advance(20)
        second = await b.check()
        assert [e.data.state for e in first + second] == [ConnectorState.SILENT] * 2
        published = await statuses(kafka_bootstrap, topics_ready)
        assert len(published) == 2 and len({header(r.headers, "ce_id") for r in published}) == 1
        assert first[0].id == second[0].id  # the notifier, idempotent on the id, pages once
    finally:
        await delivery.close()
        for ledger in ledgers:
            await ledger.close()


async def _set_state(database_url: str, source: str, state: str) -> None:
    from sqlalchemy import create_engine, text

    from shared.db import sync_url

    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE connector_activity SET state = :s WHERE source = :src"),
            {"s": state, "src": source},
        )
    engine.dispose()
