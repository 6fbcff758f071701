"""The router as a service on the real broker and database: classified messages in, routed and
unstaffed events out; an agent coming online through the authenticated API gets the waiting
item (assigned event); helpdesk lifecycle events resolve it, a duplicate changes nothing;
roles and clear 4xx errors on the API."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import select

from services.router.app import build
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import RoutedItem
from shared import db, topics
from shared.events import HelpdeskItemUpdated, Lifecycle, LifecycleAction
from tests.integration.test_router_dispatch import T0, Clock, classified
from tests.kafkautil import collect, decoded, produce

pytestmark = [pytest.mark.kafka]
ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}


async def test_router_service_end_to_end(kafka_bootstrap, topics_ready, database_url):
    ns = topics_ready
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_namespace=ns,
        database_url=database_url,
        consumer_group=f"r-{uuid.uuid4().hex[:6]}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        poll_timeout_ms=100,
        sweep_interval_s=3600,
    )
    app, runtime = build(settings, clock=Clock())
    task = asyncio.create_task(runtime.run())
    try:
        await produce(
            kafka_bootstrap, topics.qualified(topics.CLASSIFIED, ns), [classified(1), classified(1)]
        )
        # a duplicate in the same batch may be re-published while pending: same event id
        [routed] = unique(
            decoded(
                await collect(kafka_bootstrap, topics.qualified(topics.ROUTED, ns), 1, settle=1.0)
            )
        )
        [unstaffed] = unique(
            decoded(await collect(kafka_bootstrap, topics.qualified(topics.UNSTAFFED, ns), 1))
        )
        assert routed.data.routing.queue == unstaffed.data.queue == "support-de"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router"
        ) as http:
            await check_roles_and_errors(http)
            anna = await token(http, "anna", "agent")
            answer = await http.put(
                "/v1/agents/anna/status", json={"status": "online"}, headers=anna
            )
            assert answer.status_code == 200 and answer.json()["offered"] == 1
            [assigned] = decoded(
                await collect(kafka_bootstrap, topics.qualified(topics.ASSIGNED, ns), 1)
            )
            assert (assigned.data.agent_id, assigned.data.item_id) == ("anna", routed.id)
            items = (await http.get("/v1/queues/support-de/items", headers=anna)).json()
            assert [(i["item_id"], i["agent"]) for i in items] == [(routed.id, "anna")]
            # who wrote and why a reply is needed, for the queue views (the console)
            assert items[0]["author"] == "Jana K. (@jana.k)"
            assert items[0]["explanation"] == routed.data.classification.reason
            resolved = HelpdeskItemUpdated(
                id="hd-42",
                source="helpdesk/test",
                time=T0,
                correlation_id="c",
                subject=routed.subject,
                data=Lifecycle(item_id=routed.id, action=LifecycleAction.RESOLVED, at=T0),
            )
            await produce(
                kafka_bootstrap, topics.qualified(topics.LIFECYCLE, ns), [resolved, resolved]
            )
            assert await eventually(
                lambda: http.get("/v1/queues/support-de/items", headers=anna), []
            )
            audit = (await http.get(f"/v1/audit?item_id={routed.id}", headers=ADMIN)).json()
            assert [a["action"] for a in audit] == ["routed", "assigned", "helpdesk_resolved"]
    finally:
        runtime.stop()
        await asyncio.wait_for(task, timeout=30)
    engine = db.engine(database_url)
    async with db.sessions(engine)() as s:
        assert len((await s.execute(select(RoutedItem))).scalars().all()) == 1
    await engine.dispose()


def unique(events):
    return list({e.id: e for e in events}.values())


async def token(http, subject, role, team=None) -> dict:
    answer = await http.post(
        "/v1/admin/tokens", json={"subject": subject, "role": role, "team": team}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


async def check_roles_and_errors(http) -> None:
    assert (await http.get("/v1/queues")).status_code == 401
    assert (
        await http.get("/v1/queues", headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    assert (await http.get("/healthz")).status_code in (200, 503)
    emma, lead = await token(http, "emma", "agent"), await token(http, "erika", "lead", "care-de")
    assert (await http.get("/v1/queues", headers=emma)).json() == {}  # care-en sees no German items
    assert (await http.get("/v1/queues/support-de/items", headers=emma)).status_code == 403
    assert (
        await http.put("/v1/agents/anna/status", json={"status": "online"}, headers=emma)
    ).status_code == 403
    assert (
        await http.put("/v1/agents/anna/status", json={"status": "asleep"}, headers=ADMIN)
    ).status_code == 422
    assert (await http.get("/v1/kpis", headers=emma)).status_code == 403
    kpis = await http.get("/v1/kpis", headers=lead)
    assert kpis.status_code == 200 and kpis.json()["messages"] == 1
    assert (await http.get("/v1/teams", headers=lead)).json() == {
        "care-de": ["billing-de", "support-de"]
    }
    assert (await http.get("/v1/admin/config/routing", headers=lead)).status_code == 403
    current = (await http.get("/v1/admin/config/routing", headers=ADMIN)).json()["yaml"]
    broken = current.replace("queue: billing-de\n", "queue: billing\n")
    answer = await http.put(
        "/v1/admin/config/routing",
        content=broken,
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 422 and "rule 'billing-de' (line" in answer.json()["detail"]
    # a delivery id out of the database's range is the caller's error (found by schemathesis: it was a 500)
    for delivery, status in (("99999999999999999999", 422), ("0", 422), ("-3", 422), ("4242", 404)):
        answer = await http.post(f"/v1/admin/webhooks/{delivery}/replay", headers=ADMIN)
        assert answer.status_code == status, (delivery, answer.text)


async def eventually(call, expected, tries: int = 100):
    for _ in range(tries):
        if (await call()).json() == expected:
            return True
        await asyncio.sleep(0.1)
    return False
