"""Forecast and staffing through the router's API, on the router's own stored arrivals: the
lead's question "how many agents tomorrow 18:00–22:00 on support-de, and if the launch doubles
the volume?" — and the answers for what is missing (no token, wrong role or team, an unknown
queue, a queue without history)."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta

import httpx
import pytest

from services.router.app import build
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import RoutedItem
from tests.integration.test_router_dispatch import T0, Clock

ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}
NOW = T0.astimezone(UTC)


def arrivals() -> list[RoutedItem]:
    """Four weeks of support-de: a few items every half hour from 08:00 to 22:00 UTC, more in the
    evening, five minutes' handling each."""
    rows, start = [], (NOW - timedelta(days=28)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(28):
        for slot in range(16, 44):
            at = start + timedelta(days=day, minutes=30 * slot)
            for k in range(2 + (slot >= 36) * 2 + (slot + day) % 2):
                key = f"x:{day}:{slot}:{k}"
                rows.append(
                    RoutedItem(
                        message_key=key,
                        event_id=uuid.uuid5(uuid.NAMESPACE_URL, key).hex,
                        conversation_key=key,
                        queue="support-de",
                        priority=50,
                        sla_deadline=at + timedelta(minutes=20),
                        routed_at=at,
                        received_at=at,
                        handling_s=300.0,
                    )
                )
    return rows


@pytest.fixture
async def router(database_url):
    app, runtime = build(
        RouterSettings(database_url=database_url, sweep_interval_s=3600), clock=Clock()
    )
    await runtime.prepare()
    async with runtime.dispatcher._sessions() as s:
        s.add_all(arrivals())
        await s.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as http:
        yield http
    await runtime.relay.close()


async def token(http, subject, role, team=None) -> dict:
    answer = await http.post(
        "/v1/admin/tokens", json={"subject": subject, "role": role, "team": team}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


async def test_a_lead_gets_the_agents_needed_tomorrow_evening_and_the_what_if(router):
    lead = await token(router, "erika", "lead", "care-de")
    forecast = await router.get("/v1/forecast?queue=support-de&days=2", headers=lead)
    assert forecast.status_code == 200, forecast.text
    [reply] = forecast.json()["workloads"]
    assert reply["workload"] == "reply" and len(reply["intervals"]) == 96
    evening = [i for i in reply["intervals"] if "T19:00" in i["start"] or "T20:00" in i["start"]]
    night = [i for i in reply["intervals"] if "T03:00" in i["start"]]
    assert min(i["mean"] for i in evening) > 2 > max(i["mean"] for i in night), (
        "the daily pattern is learnt"
    )

    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    window = f"queue=support-de&start={tomorrow}T18:00:00Z&end={tomorrow}T22:00:00Z&days=2"
    plain = await router.get(f"/v1/staffing?{window}", headers=lead)
    doubled = await router.get(f"/v1/staffing?{window}&volume_factor=2", headers=lead)
    assert plain.status_code == doubled.status_code == 200, plain.text
    rows, more = plain.json()["intervals"], doubled.json()["intervals"]
    assert len(rows) == 8 and all(r["agents"] >= 1 for r in rows)
    assert sum(r["agents"] for r in more) > sum(r["agents"] for r in rows), (
        "double the volume, more agents"
    )
    assert all(r["service_level"] >= 0.8 for r in rows), "staffed to the queue's SLA target"


async def test_what_is_missing_is_said(router):
    assert (await router.get("/v1/forecast?queue=support-de")).status_code == 401
    agent = await token(router, "anna", "agent", "care-de")
    assert (await router.get("/v1/forecast?queue=support-de", headers=agent)).status_code == 403
    other = await token(router, "emma-lead", "lead", "care-en")
    refused = await router.get("/v1/forecast?queue=support-de", headers=other)
    assert refused.status_code == 403 and "another team" in refused.json()["detail"]
    assert (await router.get("/v1/forecast?queue=nowhere", headers=ADMIN)).status_code == 404
    empty = await router.get("/v1/staffing?queue=support-en", headers=ADMIN)
    assert empty.status_code == 422 and "support-en" in empty.json()["detail"]
    assert (
        await router.get("/v1/staffing?queue=support-de&target=1.5", headers=ADMIN)
    ).status_code == 422
