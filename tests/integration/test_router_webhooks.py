"""The Standard Webhooks bridge against a real HTTP server and database: signed v1 deliveries
the reference library verifies, one delivery per (endpoint, event) however often it is queued,
retries on the schedule for about three days, then dead-lettered, and replayable."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from standardwebhooks import Webhook

from services.router.tables import AuditEntry, WebhookDelivery
from services.router.webhooks import DEAD, DELIVERED, PENDING, RETRY_SCHEDULE, WebhookBridge
from shared import db, schemagen
from shared.broker import free_port
from shared.service import QuietServer

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
        async def hook(request: Request) -> Response:
            body = (await request.body()).decode()
            headers = dict(request.headers)
            if self.failing:
                return Response(status_code=503)
            # the timestamp is the injected clock's (days away), so check the signature with the
            # reference library's signer rather than verify(), which also checks the age
            at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
            expected = self.verifier.sign(headers["webhook-id"], at, body)
            assert headers["webhook-signature"].startswith("v1,") and headers["webhook-signature"] == expected
            self.received.append({"id": headers["webhook-id"], "payload": json.loads(body)})
            return Response(status_code=204)

        return app


@pytest.fixture
async def helpdesk():
    desk, port = Helpdesk(), free_port()
    server = QuietServer(uvicorn.Config(desk.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off"))
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
    bridge = WebhookBridge(sessions, {"zammad": helpdesk.url, "legacy": down}, {"zammad": SECRET, "legacy": SECRET})
    routed, assigned = schemagen.example_events()[2], schemagen.example_events()[5]
    await bridge.enqueue([routed, assigned, schemagen.example_events()[1]], T0)  # classified: not forwarded
    await bridge.enqueue([routed, assigned], T0)  # again: nothing new

    assert await bridge.deliver_due(T0) == 2
    assert sorted(r["id"] for r in helpdesk.received) == sorted([routed.id, assigned.id])
    assert {r["payload"]["type"] for r in helpdesk.received} == {routed.TYPE, assigned.TYPE}

    now = T0
    for wait in RETRY_SCHEDULE:
        assert await states(sessions, "legacy") == {PENDING}
        assert await bridge.deliver_due(now + wait - timedelta(seconds=1)) == 0  # not yet due: no attempt
        now += wait
        await bridge.deliver_due(now)
    assert await states(sessions, "legacy") == {DEAD}
    assert timedelta(days=2, hours=20) < now - T0 < timedelta(days=3, hours=6)
    async with sessions() as s:
        dead = (await s.execute(select(WebhookDelivery).where(WebhookDelivery.endpoint == "legacy"))).scalars().all()
        actions = (await s.execute(select(AuditEntry.action))).scalars().all()
    assert {d.attempts for d in dead} == {len(RETRY_SCHEDULE) + 1} and {d.last_error for d in dead} == {"HTTP 404"}
    assert actions.count("webhook_dead_lettered") == 2

    bridge.endpoints["legacy"] = helpdesk.url  # the helpdesk fixed its endpoint; an admin replays
    assert await bridge.replay(dead[0].id, now, "admin") and not await bridge.replay(dead[0].id, now, "admin")
    assert await bridge.deliver_due(now) == 1
    assert await states(sessions, "zammad") == {DELIVERED}
    assert len(helpdesk.received) == 3
    await engine.dispose()


async def states(sessions, endpoint: str) -> set[str]:
    async with sessions() as s:
        return set((await s.execute(select(WebhookDelivery.state).where(WebhookDelivery.endpoint == endpoint))).scalars())
