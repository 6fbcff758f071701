"""Forecast and staffing through the router's API, on the router's own stored arrivals: the
lead's question "how many agents tomorrow 18:00–22:00 on support-de, and if the launch doubles
the volume?" in one call, against the team's roster; forecasts stored in the router's table and
served by a second replica with their age; rosters managed through the API; and the answers for
what is missing (no token, wrong role or team, an unknown queue, no forecast yet, too little
history, no handling times, an impossible target, a bad roster)."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import UTC, timedelta

import httpx
import pytest

from services.router.app import build
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import RoutedItem
from tests.integration.test_router_dispatch import T0, Clock

ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}
NOW = T0.astimezone(UTC)


def arrivals(
    queue: str = "support-de", days: int = 28, handling_s: float = 300.0
) -> list[RoutedItem]:
    """Four weeks of support-de: a few items every half hour from 08:00 to 22:00 UTC, more in the
    evening, five minutes' handling each; mentions in the evening, direct messages otherwise."""
    rows = []
    start = (NOW - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(days):
        for slot in range(16, 44):
            at = start + timedelta(days=day, minutes=30 * slot)
            for k in range(2 + (slot >= 36) * 2 + (slot + day) % 2):
                key = f"{queue}:{day}:{slot}:{k}"
                rows.append(
                    RoutedItem(
                        message_key=key,
                        event_id=uuid.uuid5(uuid.NAMESPACE_URL, key).hex,
                        conversation_key=key,
                        queue=queue,
                        channel="mention" if slot >= 36 else "direct_message",
                        priority=50,
                        sla_deadline=at + timedelta(minutes=20),
                        routed_at=at,
                        received_at=at,
                        handling_s=handling_s,
                    )
                )
    return rows


@asynccontextmanager
async def replica(database_url: str):
    """One router (app + runtime) on ``database_url``, its HTTP client."""
    app, runtime = build(
        RouterSettings(database_url=database_url, sweep_interval_s=3600), clock=Clock()
    )
    await runtime.prepare()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as http:
        http.runtime = runtime
        yield http
    await runtime.relay.close()


@pytest.fixture
async def router(database_url):
    async with replica(database_url) as http:
        async with http.runtime.dispatcher._sessions() as s:
            s.add_all(arrivals())
            s.add_all(arrivals("billing-de", handling_s=0.0))  # no handling time recorded
            s.add_all(arrivals("support-en", days=0))  # nothing yet
            await s.commit()
        http.database_url = database_url
        yield http


async def refreshed(http, queue: str) -> dict:
    answer = await http.post(f"/v1/forecasts/refresh?queue={queue}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def token(http, subject, role, team=None) -> dict:
    answer = await http.post(
        "/v1/admin/tokens", json={"subject": subject, "role": role, "team": team}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


async def test_a_lead_gets_the_agents_needed_tomorrow_evening_and_the_what_if(router):
    lead = await token(router, "erika", "lead", "care-de")
    none_yet = await router.get("/v1/forecast?queue=support-de&days=2", headers=lead)
    assert none_yet.status_code == 409 and "computed yet" in none_yet.json()["detail"]
    assert (await refreshed(router, "support-de"))["series"]["support-de:reply"] == "ok"

    forecast = await router.get("/v1/forecast?queue=support-de&days=2", headers=lead)
    assert forecast.status_code == 200, forecast.text
    body = forecast.json()
    assert body["age_s"] == 0 and body["stale"] is False
    assert {c["channel"] for c in body["channels"]} == {"direct_message", "mention"}
    [reply] = body["workloads"]
    assert reply["workload"] == "reply" and len(reply["intervals"]) == 96
    evening = [i for i in reply["intervals"] if "T19:00" in i["start"] or "T20:00" in i["start"]]
    night = [i for i in reply["intervals"] if "T03:00" in i["start"]]
    assert min(i["mean"] for i in evening) > 2 > max(i["mean"] for i in night), (
        "the daily pattern is learnt"
    )

    shifts = {
        "timezone": "UTC",
        "pattern": [{"days": "mon-sun", "from": "08:00", "to": "22:00", "agents": 1}],
    }
    put = await router.put("/v1/rosters/care-de", json=shifts, headers=lead)
    assert put.status_code == 200 and put.json()["version"] == 1, put.text

    # the lead's question, in one call: tomorrow 18:00-22:00, and if the launch doubles the volume
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    window = f"queue=support-de&start={tomorrow}T18:00:00Z&end={tomorrow}T22:00:00Z"
    both = await router.get(f"/v1/staffing?{window}&volume_factor=2", headers=lead)
    assert both.status_code == 200, both.text
    answer = both.json()
    rows, totals = answer["intervals"], answer["totals"]
    assert len(rows) == 8 and all(r["baseline_scheduled"] >= 1 for r in rows)
    assert totals["agent_hours"] > totals["baseline_agent_hours"], "double the volume, more agents"
    assert totals["peak"] >= totals["baseline_peak"]
    assert all(r["rostered"] == 1 for r in rows) and answer["roster"] is True
    assert [g["start"] for g in answer["gaps"]] == [
        r["start"] for r in rows if r["scheduled"] > 1
    ], "the gaps are the intervals the roster leaves short"
    plain = await router.get(f"/v1/staffing?{window}", headers=lead)
    assert all(r["service_level"] >= 0.8 for r in plain.json()["intervals"]), (
        "staffed to the queue's SLA target"
    )
    assert [r["scheduled"] for r in plain.json()["intervals"]] == [
        r["baseline_scheduled"] for r in rows
    ]


async def test_a_second_replica_serves_the_stored_forecast_with_its_age(router):
    await refreshed(router, "support-de")
    first = (await router.get("/v1/forecast?queue=support-de", headers=ADMIN)).json()
    async with replica(router.database_url) as other:
        other.runtime.clock.now = NOW + timedelta(hours=1)  # the second replica, an hour later
        again = await other.get("/v1/forecast?queue=support-de&days=7", headers=ADMIN)
    assert again.status_code == 200, again.text
    second = again.json()
    assert second["computed_at"] == first["computed_at"] and second["age_s"] == 3600
    assert second["workloads"][0]["intervals"][0] == first["workloads"][0]["intervals"][2], (
        "the same stored figures, from the interval that is now current"
    )


async def test_rosters_are_validated_and_scoped(router):
    lead = await token(router, "erika", "lead", "care-de")
    assert (await router.get("/v1/rosters/care-de", headers=lead)).status_code == 404
    other = await router.put("/v1/rosters/care-en", json={"pattern": []}, headers=lead)
    assert other.status_code == 403
    assert (
        await router.put("/v1/rosters/nobody", json={"pattern": []}, headers=ADMIN)
    ).status_code == 404
    for bad, words in (
        ({"timezone": "Mars/Olympus", "pattern": []}, "unknown time zone"),
        ({"pattern": [{"days": "mon-fri", "from": "18:00", "to": "08:00"}]}, "split a night shift"),
        ({"pattern": [{"days": "someday", "from": "08:00", "to": "12:00"}]}, "mon..sun"),
    ):
        answer = await router.put("/v1/rosters/care-de", json=bad, headers=lead)
        assert answer.status_code == 422 and words in answer.json()["detail"], answer.text
    missing = await router.put(
        "/v1/rosters/care-de", json={"pattern": [{"days": "mon"}]}, headers=lead
    )
    assert missing.status_code == 422  # from and to are required
    good = {
        "timezone": "Europe/Berlin",
        "pattern": [{"days": "mon-fri", "from": "08:00", "to": "16:30", "agents": 3}],
        "exceptions": [{"date": "2026-12-24", "agents": -3, "reason": "Christmas Eve"}],
    }
    for version in (1, 2):
        put = await router.put("/v1/rosters/care-de", json=good, headers=lead)
        assert put.status_code == 200 and put.json()["version"] == version
    got = (await router.get("/v1/rosters/care-de", headers=lead)).json()
    assert got["roster"]["exceptions"][0]["from"] == "00:00" and got["updated_by"] == "erika"


async def test_what_is_missing_is_said(router):
    for queue in ("support-de", "support-en", "billing-de"):
        await refreshed(router, queue)
    assert (await router.get("/v1/forecast?queue=support-de")).status_code == 401
    agent = await token(router, "anna", "agent", "care-de")
    assert (await router.get("/v1/forecast?queue=support-de", headers=agent)).status_code == 403
    other = await token(router, "emma-lead", "lead", "care-en")
    refused = await router.get("/v1/forecast?queue=support-de", headers=other)
    assert refused.status_code == 403 and "another team" in refused.json()["detail"]
    assert (await router.get("/v1/forecast?queue=nowhere", headers=ADMIN)).status_code == 404
    assert (await router.get("/v1/forecast?queue=escalations", headers=ADMIN)).status_code == 409
    empty = await router.get("/v1/staffing?queue=support-en", headers=ADMIN)
    assert empty.status_code == 422 and "at least one full day" in empty.json()["detail"]
    no_aht = await router.get("/v1/staffing?queue=billing-de", headers=ADMIN)
    assert no_aht.status_code == 422 and "no handling times" in no_aht.json()["detail"]
    assert (
        await router.get("/v1/staffing?queue=billing-de&aht_s=240", headers=ADMIN)
    ).status_code == 200
    always = await router.get("/v1/staffing?queue=support-de&target=1", headers=ADMIN)
    assert always.status_code == 422 and "never answer 100 %" in always.json()["detail"]
    assert (
        await router.get("/v1/staffing?queue=support-de&target=1.5", headers=ADMIN)
    ).status_code == 422
    naive = await router.get(
        "/v1/staffing?queue=support-de&start=2026-11-24T18:00:00", headers=ADMIN
    )
    assert naive.status_code == 422 and "UTC offset" in naive.json()["detail"]
