"""The helpdesk loop over HTTP, end to end on the real broker and database with the router and
the notifier running: an urgent item routed on a Sunday night is paged and gets SLA timers; a
Zammad reply webhook to the router's helpdesk endpoint cancels those timers and resolves the
page, and the router's KPIs show the first response time; a Chatwoot CSAT answer is counted on
the item; a Chatwoot re-label is published as a correction the classifier stores."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from services.classifier.feedback import CorrectionStore
from services.notifier.app import build as build_notifier
from services.notifier.settings import DEV_SIGNING_KEY, NotifierSettings
from services.notifier.tables import Incident, SlaTimer
from services.router.app import build as build_router
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import RoutedItem
from shared import db, topics
from shared.events import Urgency
from shared.service import QuietServer
from tests.helpdesk_support import payloads as p
from tests.integration.test_router_dispatch import classified
from tests.kafkautil import collect, decoded, produce
from tools.devbroker import free_port
from tools.pager_sink import PagerSink

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
SUNDAY_NIGHT = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # Berlin: closed
ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}
HELPDESKS = {
    "zammad": {"kind": "zammad", "secrets": [p.ZAMMAD_TOKEN]},
    "chatwoot": {
        "kind": "chatwoot",
        "secrets": [p.CHATWOOT_SECRET],
        "tag_map": {"billing": "reason:billing"},
    },
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def eventually(check, timeout: float = 60.0):
    """Poll ``check`` (async, truthy when done) until it holds or the deadline passes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if result := await check():
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {check.__name__}")
        await asyncio.sleep(0.2)


async def test_helpdesk_webhooks_close_the_loop(kafka_bootstrap, topics_ready, database_url):
    ns, group = topics_ready, uuid.uuid4().hex[:6]
    consumer = dict(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=ns,
        database_url=database_url,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
    )
    clock, sink, port = Clock(SUNDAY_NIGHT), PagerSink(DEV_SIGNING_KEY), free_port()
    app, router = build_router(
        RouterSettings(**consumer, consumer_group=f"r-{group}", helpdesks=HELPDESKS), clock=clock
    )
    _, notifier = build_notifier(
        NotifierSettings(
            **consumer,
            consumer_group=f"n-{group}",
            page_url=f"http://127.0.0.1:{port}/pages",
            scheduler_interval_s=0.1,
        ),
        clock=clock,
    )
    server = QuietServer(
        uvicorn.Config(sink.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    tasks = [asyncio.create_task(t) for t in (server.serve(), router.run(), notifier.run())]
    engine = db.engine(database_url)
    sessions = db.sessions(engine)
    try:
        urgent = classified(7)
        cls = urgent.data.classification.model_copy(update={"urgency": Urgency.HIGH})
        # posted ten minutes before the router saw it (22:20 UTC; routed at 22:30)
        posted = urgent.data.message.model_copy(
            update={"created_at": SUNDAY_NIGHT - timedelta(minutes=10)}
        )
        urgent = urgent.model_copy(
            update={
                "data": urgent.data.model_copy(update={"classification": cls, "message": posted})
            }
        )
        await produce(kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), [urgent])
        [routed] = decoded(await collect(kafka_bootstrap, topics.qualified(topics.ROUTED, ns), 1))
        item = routed.id

        async def paged_with_timers():
            async with sessions() as s:
                incidents = (await s.execute(select(Incident))).scalars().all()
                timers = (
                    (await s.execute(select(SlaTimer).where(SlaTimer.item_event_id == item)))
                    .scalars()
                    .all()
                )
            return (
                [i for i in incidents if i.status != "resolved"] and timers and (incidents, timers)
            )

        incidents, timers = await eventually(paged_with_timers)
        assert all(t.fired_at is None for t in timers)

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router"
        ) as http:
            reply_at = "2026-11-22T22:41:00.000Z"
            body = p.dumps(p.zammad(item, owner=None, at=reply_at))
            answer = await http.post(
                "/v1/helpdesks/zammad/events", content=body, headers=p.zammad_headers(body)
            )
            assert answer.status_code == 202, answer.text

            async def closed():
                async with sessions() as s:
                    timers = (
                        (await s.execute(select(SlaTimer).where(SlaTimer.item_event_id == item)))
                        .scalars()
                        .all()
                    )
                    incidents = (await s.execute(select(Incident))).scalars().all()
                return all(t.fired_at is not None for t in timers) and all(
                    i.status == "resolved" for i in incidents
                )

            await eventually(closed)

            async def answered():
                async with sessions() as s:
                    row = (await s.execute(select(RoutedItem))).scalar_one()
                return row.first_response_s is not None and row

            row = await eventually(answered)
            assert row.responses == 1
            kpis = (await http.get("/v1/kpis", headers=ADMIN)).json()
            # first response on the customer's clock: posted 22:20, answered 22:41 (not 11 min
            # from routing); the ingestion delay is reported beside it
            assert kpis["first_response_time"]["calendar_s"] == 21 * 60, kpis
            assert kpis["ingestion_delay"]["max_s"] == 600, kpis

            stamp = int(SUNDAY_NIGHT.timestamp())
            for payload in (p.chatwoot_csat(item, 4), p.chatwoot_labels(item, ["billing"])):
                raw = p.dumps(payload)
                signed = p.chatwoot_headers(raw, timestamp=stamp)
                answer = await http.post(
                    "/v1/helpdesks/chatwoot/events", content=raw, headers=signed
                )
                assert answer.status_code == 202, answer.text

            async def rated_and_retagged():
                async with sessions() as s:
                    row = (await s.execute(select(RoutedItem))).scalar_one()
                return row.satisfaction == 4.0 and row.tags == ["reason:billing"] and row

            await eventually(rated_and_retagged)
            kpis = (await http.get("/v1/kpis", headers=ADMIN)).json()
            assert kpis["csat"]["overall"] == {"mean": 4.0, "count": 1}, kpis["csat"]
            assert kpis["csat"]["by_channel"] == {"public_comment": {"mean": 4.0, "count": 1}}
        [correction] = decoded(
            await collect(kafka_bootstrap, topics.qualified(topics.CORRECTIONS, ns), 1)
        )
        assert (correction.data.item_id, correction.data.tags) == (item, ("reason:billing",))
        assert await CorrectionStore(sessions).store(correction) == "inserted"
    finally:
        router.stop()
        notifier.stop()
        server.should_exit = True
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        await engine.dispose()
