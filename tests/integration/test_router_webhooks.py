"""The Standard Webhooks bridge against a real HTTP server and database: signed v1 deliveries
the reference library verifies, one delivery per (endpoint, event) however often it is queued,
retries on the schedule for about three days, then dead-lettered, and replayable; per-endpoint
filters (queues, event types) decide which endpoints get a delivery, and the router refuses to
start, or to save a routing document, when a filter names a queue that is not there."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from standardwebhooks import Webhook

from services.router.app import build
from services.router.settings import (
    DEV_ROUTER_ADMIN_TOKEN,
    RouterSettings,
    WebhookFilter,
)
from services.router.tables import AuditEntry, RoutedItem, WebhookDelivery
from services.router.webhooks import (
    DEAD,
    DELIVERED,
    PENDING,
    RETRY_SCHEDULE,
    WebhookBridge,
    WebhookFilterError,
)
from shared import db, schemagen
from shared.events import ItemAssigned, ItemRouted, ReplyReleased
from shared.service import QuietServer
from tools.devbroker import free_port

SECRET = "whsec_" + base64.b64encode(b"helpdesk-bridge-test-secret").decode()
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Helpdesk:
    """A helpdesk endpoint that verifies every delivery with the reference implementation."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.failing = False
        self.verifier = Webhook(SECRET)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks")
        async def hook(request: Request, desk: str = "") -> Response:
            body = (await request.body()).decode()
            headers = dict(request.headers)
            if self.failing:
                return Response(status_code=503)
            # the timestamp is the injected clock's (days away), so check the signature with the
            # reference library's signer rather than verify(), which also checks the age
            at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
            expected = self.verifier.sign(headers["webhook-id"], at, body)
            assert (
                headers["webhook-signature"].startswith("v1,")
                and headers["webhook-signature"] == expected
            )
            self.received.append(
                {"id": headers["webhook-id"], "payload": json.loads(body), "desk": desk}
            )
            return Response(status_code=204)

        return app


@pytest.fixture
async def helpdesk():
    desk, port = Helpdesk(), free_port()
    server = QuietServer(
        uvicorn.Config(desk.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    desk.url = f"http://127.0.0.1:{port}/hooks"
    yield desk
    server.should_exit = True
    await task


async def test_signed_deliveries_retries_for_three_days_then_dead_letter(database_url, helpdesk):
    engine = db.engine(database_url)
    sessions = db.sessions(engine)
    down = helpdesk.url.replace("/hooks", "/gone")  # 404: never accepted
    bridge = WebhookBridge(
        sessions, {"zammad": helpdesk.url, "legacy": down}, {"zammad": SECRET, "legacy": SECRET}
    )
    routed, assigned = schemagen.example_events()[2], schemagen.example_events()[5]
    await bridge.enqueue(
        [routed, assigned, schemagen.example_events()[1]], T0
    )  # classified: not forwarded
    await bridge.enqueue([routed, assigned], T0)  # again: nothing new

    assert await bridge.deliver_due(T0) == 2
    assert sorted(r["id"] for r in helpdesk.received) == sorted([routed.id, assigned.id])
    assert {r["payload"]["type"] for r in helpdesk.received} == {routed.TYPE, assigned.TYPE}

    now = T0
    for wait in RETRY_SCHEDULE:
        assert await states(sessions, "legacy") == {PENDING}
        assert (
            await bridge.deliver_due(now + wait - timedelta(seconds=1)) == 0
        )  # not yet due: no attempt
        now += wait
        await bridge.deliver_due(now)
    assert await states(sessions, "legacy") == {DEAD}
    assert timedelta(days=2, hours=20) < now - T0 < timedelta(days=3, hours=6)
    async with sessions() as s:
        dead = (
            (await s.execute(select(WebhookDelivery).where(WebhookDelivery.endpoint == "legacy")))
            .scalars()
            .all()
        )
        actions = (await s.execute(select(AuditEntry.action))).scalars().all()
    assert {d.attempts for d in dead} == {len(RETRY_SCHEDULE) + 1} and {
        d.last_error for d in dead
    } == {"HTTP 404"}
    assert actions.count("webhook_dead_lettered") == 2

    bridge.endpoints["legacy"] = helpdesk.url  # the helpdesk fixed its endpoint; an admin replays
    assert await bridge.replay(dead[0].id, now, "admin") and not await bridge.replay(
        dead[0].id, now, "admin"
    )
    assert await bridge.deliver_due(now) == 1
    assert await states(sessions, "zammad") == {DELIVERED}
    assert len(helpdesk.received) == 3
    await engine.dispose()


async def states(sessions, endpoint: str) -> set[str]:
    async with sessions() as s:
        return set(
            (
                await s.execute(
                    select(WebhookDelivery.state).where(WebhookDelivery.endpoint == endpoint)
                )
            ).scalars()
        )


def in_queue(queue: str) -> tuple[ItemRouted, ItemAssigned, ReplyReleased]:
    """The example routed, assigned and released events, moved to ``queue`` (fresh ids)."""
    routed, assigned, released = (schemagen.example_events()[i] for i in (2, 5, 7))
    routed = routed.model_copy(
        update={
            "id": f"routed-{queue}",
            "data": routed.data.model_copy(
                update={"routing": routed.data.routing.model_copy(update={"queue": queue})}
            ),
        }
    )
    assigned = assigned.model_copy(
        update={
            "id": f"assigned-{queue}",
            "data": assigned.data.model_copy(update={"queue": queue, "item_id": routed.id}),
        }
    )
    released = released.model_copy(
        update={
            "id": f"released-{queue}",
            "data": released.data.model_copy(update={"item_id": routed.id}),
        }
    )  # a release names its item, not its queue
    return routed, assigned, released


async def test_filters_choose_each_endpoints_queues_and_event_types(database_url, helpdesk):
    engine = db.engine(database_url)
    sessions = db.sessions(engine)
    desks = ("de", "en", "all", "routing-only")
    bridge = WebhookBridge(
        sessions,
        {d: f"{helpdesk.url}?desk={d}" for d in desks},
        dict.fromkeys(desks, SECRET),
        filters={
            "de": WebhookFilter(queues={"support-de", "billing-de"}),
            "en": WebhookFilter(queues={"support-en"}),
            "routing-only": WebhookFilter(event_types={ItemRouted.TYPE, ItemAssigned.TYPE}),
        },
    )
    de, en, billing = in_queue("support-de"), in_queue("support-en"), in_queue("billing-de")
    async with sessions() as s:  # the ledger rows the released replies' queues are read from
        for routed, _, _ in (de, en):
            r = routed.data.routing
            s.add(
                RoutedItem(
                    message_key=f"key-{routed.id}",
                    event_id=routed.id,
                    conversation_key="conv",
                    queue=r.queue,
                    priority=r.priority,
                    sla_deadline=r.sla_deadline,
                    routed_at=r.routed_at,
                )
            )
        await s.commit()
    orphan = de[2].model_copy(
        update={"id": "released-orphan", "data": de[2].data.model_copy(update={"item_id": "gone"})}
    )
    # billing-de's release has no ledger row either: only endpoints without a queue filter get it
    await bridge.enqueue([*de, *en, *billing, orphan], T0)

    await bridge.deliver_due(T0)
    got = {(r["desk"], r["id"]) for r in helpdesk.received}
    ids = lambda *events: {e.id for e in events}  # noqa: E731
    assert {i for d, i in got if d == "de"} == ids(*de, billing[0], billing[1])
    assert {i for d, i in got if d == "en"} == ids(*en)
    assert {i for d, i in got if d == "all"} == ids(*de, *en, *billing, orphan)
    assert {i for d, i in got if d == "routing-only"} == ids(
        de[0], de[1], en[0], en[1], billing[0], billing[1]
    )
    async with sessions() as s:  # no row at all for what an endpoint does not want
        rows = set(
            (await s.execute(select(WebhookDelivery.endpoint, WebhookDelivery.event_id))).all()
        )
    assert rows == got and len(helpdesk.received) == len(got) == 5 + 3 + 10 + 6
    await engine.dispose()


def filtered_settings(database_url: str, filters: dict) -> RouterSettings:
    return RouterSettings(
        database_url=database_url,
        webhook_endpoints={"zendesk-de": "http://127.0.0.1:9/hooks"},
        webhook_secrets={"zendesk-de": SECRET},
        webhook_filters=filters,
    )


async def test_start_up_refuses_a_filter_naming_an_unknown_queue_or_event_type(database_url):
    app, runtime = build(
        filtered_settings(database_url, {"zendesk-de": {"queues": ["support-de", "suport-en"]}})
    )
    with pytest.raises(
        WebhookFilterError,
        match=r"webhook endpoint 'zendesk-de': unknown queue\(s\) suport-en — "
        r"not in the live routing configuration",
    ):
        await runtime.prepare()
    with pytest.raises(
        WebhookFilterError, match=r"'zendesk-de': unknown event type\(s\) switchboard.item.routed"
    ):
        build(
            filtered_settings(
                database_url, {"zendesk-de": {"event_types": ["switchboard.item.routed"]}}
            )
        )
    with pytest.raises(
        ValueError, match="ROUTER_WEBHOOK_FILTERS names endpoint\\(s\\) zendesk-en missing"
    ):
        filtered_settings(database_url, {"zendesk-en": {"queues": ["support-en"]}})

    # the live configuration counts, not the file: a queue an admin removed refuses the start
    app, runtime = build(
        filtered_settings(database_url, {"zendesk-de": {"queues": ["billing-de"]}})
    )
    await runtime.prepare()
    admin = {
        "Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}",
        "Content-Type": "application/yaml",
    }
    text, _ = await runtime.configs.text("routing")
    without = text.replace("  - {id: billing-de, team: care-de, skill: billing}\n", "").replace(
        "queue: billing-de", "queue: support-de"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as http:
        answer = await http.put("/v1/admin/config/routing", content=without, headers=admin)
    assert (
        answer.status_code == 422
        and "'zendesk-de': unknown queue(s) billing-de" in answer.json()["detail"]
    )
    assert (await runtime.configs.text("routing"))[1] == 0  # nothing saved
    await runtime.configs.save(
        "routing", without, "other-replica", T0
    )  # one without the filter saved it
    app, runtime = build(
        filtered_settings(database_url, {"zendesk-de": {"queues": ["billing-de"]}})
    )
    with pytest.raises(WebhookFilterError, match="unknown queue"):
        await runtime.prepare()
