"""End to end through all four services in process, on the real broker and database, with an
injected clock: a signed webhook ends as a routed item and, outside office hours, as a signed
page received by a local HTTP server; duplicates change nothing; poison is dead-lettered
while the pipeline keeps flowing."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from services.classifier.app import build as build_classifier
from services.classifier.settings import ClassifierSettings
from services.ingestor.app import create_app
from services.ingestor.settings import DEV_WEBHOOK_SECRET, IngestorSettings
from services.notifier.app import build as build_notifier
from services.notifier.settings import DEV_SIGNING_KEY, NotifierSettings
from services.router.app import build as build_router
from services.router.settings import RouterSettings
from shared import topics
from shared.service import QuietServer
from tests.ingestor_support.webhooks import example_event, running, signed
from tests.kafkautil import collect, decoded, produce_raw
from tools.devbroker import free_port
from tools.pager_sink import PagerSink

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
SUNDAY_NIGHT = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # Berlin: closed
MONDAY_MORNING = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # Berlin 10:30: open


def posted(clock: datetime, text: str) -> dict:
    """A webhook event posted on the platform a few seconds before the test's ``clock`` (the
    SLA clock starts at the post time)."""
    return example_event(text=text, created_at=(clock - timedelta(seconds=3)).isoformat())


URL = "/v1/webhooks/standard/demo"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Pipeline:
    def __init__(
        self, client, sink: PagerSink, bootstrap: str, namespace: str, clock: Clock
    ) -> None:
        self.client, self.sink, self.bootstrap, self.namespace, self.clock = (
            client,
            sink,
            bootstrap,
            namespace,
            clock,
        )

    async def post(self, event: dict, webhook_id: str | None = None):
        body, headers = signed(DEV_WEBHOOK_SECRET, event, webhook_id=webhook_id)
        return await self.client.post(URL, content=body, headers=headers)

    async def routed(self, count: int, settle: float = 0.0):
        return decoded(
            await collect(
                self.bootstrap,
                topics.qualified(topics.ROUTED, self.namespace),
                count,
                settle=settle,
            )
        )


@asynccontextmanager
async def pipeline(bootstrap: str, namespace: str, database_url: str, now: datetime):
    common = dict(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        database_url=database_url,
    )
    consumer = dict(
        common, session_timeout_ms=6000, heartbeat_interval_ms=1000, poll_timeout_ms=100
    )
    group = uuid.uuid4().hex[:6]
    clock, sink, sink_port = Clock(now), PagerSink(DEV_SIGNING_KEY), free_port()
    runners = [
        build_classifier(ClassifierSettings(**consumer, consumer_group=f"c-{group}"))[1],
        build_router(RouterSettings(**consumer, consumer_group=f"r-{group}"), clock=clock)[1],
        build_notifier(
            NotifierSettings(
                **consumer,
                consumer_group=f"n-{group}",
                page_url=f"http://127.0.0.1:{sink_port}/pages",
                scheduler_interval_s=0.1,
            ),
            clock=clock,
        )[1],
    ]
    import uvicorn

    server = QuietServer(
        uvicorn.Config(
            sink.app(), host="127.0.0.1", port=sink_port, log_config=None, lifespan="off"
        )
    )
    tasks = [asyncio.create_task(server.serve())] + [asyncio.create_task(r.run()) for r in runners]
    try:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                running(create_app(IngestorSettings(**common)))
            )
            yield Pipeline(client, sink, bootstrap, namespace, clock)
    finally:
        for r in runners:
            r.stop()
        server.should_exit = True
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)


async def test_webhook_is_routed_and_paged_outside_office_hours(
    kafka_bootstrap, topics_ready, database_url
):
    async with pipeline(kafka_bootstrap, topics_ready, database_url, SUNDAY_NIGHT) as p:
        # urgent (a safety rule fires): the default page threshold is urgency "high"
        event = posted(
            SUNDAY_NIGHT, "My order arrived and the charger caught fire. Can you help me?"
        )
        response = await p.post(event)
        assert response.status_code == 202, response.text
        [routed] = await p.routed(1)
        assert routed.data.message.platform_message_id == event["data"]["message_id"]
        assert (
            routed.data.classification.decision == "reply"
            and routed.data.classification.urgency == "high"
        )
        assert routed.data.routing.queue == "support-en"
        assert routed.data.routing.sla_deadline > SUNDAY_NIGHT
        assert routed.correlation_id == response.json()["event_id"] or routed.correlation_id
        for _ in range(100):
            if p.sink.pages:
                break
            await asyncio.sleep(0.1)
        [page] = p.sink.pages.values()
        assert page["data"]["item_event_id"] == routed.id and p.sink.rejected == 0


async def test_no_page_inside_office_hours(kafka_bootstrap, topics_ready, sqlite_url):
    async with pipeline(kafka_bootstrap, topics_ready, sqlite_url, MONDAY_MORNING) as p:
        assert (
            await p.post(posted(MONDAY_MORNING, "Where is my refund? Please help"))
        ).status_code == 202
        assert len(await p.routed(1, settle=2.0)) == 1
        # the item itself pages nobody; the router reports its queue unstaffed (no agent online
        # in this test) and that, during office hours, is worth one page per queue
        assert all(
            page["data"]["incident_key"] == "unstaffed:support-en" for page in p.sink.pages.values()
        )
        assert p.sink.deliveries <= 1


async def test_same_webhook_twice_yields_one_routed_item(
    kafka_bootstrap, topics_ready, database_url
):
    async with pipeline(kafka_bootstrap, topics_ready, database_url, SUNDAY_NIGHT) as p:
        event = posted(SUNDAY_NIGHT, "The phone overheated since the update, can you help?")
        first = await p.post(event, webhook_id="msg_once")
        again = await p.post(event, webhook_id="msg_once")
        resent = await p.post(event, webhook_id="msg_other_delivery")
        assert first.status_code == 202
        assert again.json()["status"] == resent.json()["status"] == "duplicate"
        assert len(await p.routed(1, settle=3.0)) == 1
        for _ in range(100):
            if p.sink.deliveries:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a second page, if any, would come with the next scheduler ticks
        assert p.sink.deliveries == 1


async def test_poison_is_dead_lettered_and_the_pipeline_keeps_flowing(
    kafka_bootstrap, topics_ready, sqlite_url
):
    async with pipeline(kafka_bootstrap, topics_ready, sqlite_url, SUNDAY_NIGHT) as p:
        raw = topics.qualified(topics.RAW, p.namespace)
        await produce_raw(
            p.bootstrap,
            raw,
            b'{"half": ',
            headers=[("ce_type", b"switchboard.message.received.v1")],
        )
        event = posted(SUNDAY_NIGHT, "Hello, I was charged twice. Can you help?")
        assert (await p.post(event)).status_code == 202
        [routed] = await p.routed(1)
        assert routed.data.message.platform_message_id == event["data"]["message_id"]
        [dead] = await collect(p.bootstrap, topics.dlq_for(topics.RAW, p.namespace), 1)
        headers = {k: v.decode() for k, v in dead.headers}
        assert headers["dlq.source.topic"] == raw and headers["dlq.service"] == "classifier"
        assert headers["dlq.consumer.group"].startswith("c-") and "not JSON" in headers["dlq.error"]
