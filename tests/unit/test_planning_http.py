"""``planning_router`` in a small FastAPI app with fake dependencies: roles, answers, refusals,
the what-if in query and body, and stored forecasts from ``refresh``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from services.router.planning.erlang import StaffingTarget
from services.router.planning.forecast import Series
from services.router.planning.http import planning_router
from services.router.planning.store import JsonFileStore, MemoryStore, refresh

START = datetime(2025, 1, 6, tzinfo=UTC)
NOW = START + timedelta(weeks=6)


def _series(days: int) -> Series:
    shape = 8 * np.exp(-(((np.arange(48) - 26) / 6) ** 2))
    counts = np.random.default_rng(2).poisson(
        np.concatenate([shape * (1 if d % 7 < 5 else 0.4) for d in range(days)])
    )
    return Series(NOW - timedelta(days=days), 1800, counts.astype(float))


HISTORY = {
    "support-de": {"reply": _series(42)},
    "new-queue": {"reply": Series(NOW, 1800, np.ones(10))},
    "no-aht": {"reply": _series(42)},
}
TARGETS = {
    "support-de": StaffingTarget(sla_s=900, target=0.8, aht_s=1, concurrency=2),
    "no-aht": StaffingTarget(sla_s=900, target=0.8, aht_s=1),
}
AHT = {"support-de": {"reply": 420.0}, "no-aht": {"reply": None}}


async def history(queue):
    return HISTORY.get(queue)


async def targets(queue):
    return TARGETS.get(queue)


async def handling(queue):
    return AHT.get(queue, {})


def lead(authorization: str | None = Header(None)) -> str:
    if authorization is None:
        raise HTTPException(401, "no token")
    if authorization != "Bearer lead":
        raise HTTPException(403, "needs the lead role")
    return "lead"


def _client(store=None) -> TestClient:
    app = FastAPI()
    app.include_router(
        planning_router(
            history=history,
            targets=targets,
            handling_times=handling,
            lead=lead,
            store=store,
            clock=lambda: NOW,
            may_see=lambda p, q: q != "other-team",
        )
    )
    return TestClient(app, headers={"Authorization": "Bearer lead"})


def test_forecast_for_a_lead():
    r = _client().get("/v1/forecast", params={"queue": "support-de", "days": 2})
    assert r.status_code == 200
    w = r.json()["workloads"][0]
    assert (
        len(w["intervals"]) == 96 and w["method"] and w["intervals"][0]["start"] == NOW.isoformat()
    )


@pytest.mark.parametrize(
    ("headers", "status"), [({"Authorization": ""}, 403), ({"Authorization": "Bearer agent"}, 403)]
)
def test_below_lead_is_refused(headers, status):
    assert (
        _client().get("/v1/forecast", params={"queue": "support-de"}, headers=headers).status_code
        == status
    )


def test_unknown_other_team_and_short_history():
    c = _client()
    assert c.get("/v1/forecast", params={"queue": "nope"}).status_code == 404
    assert c.get("/v1/forecast", params={"queue": "other-team"}).status_code == 403
    r = c.get("/v1/forecast", params={"queue": "new-queue"})
    assert r.status_code == 422 and "at least one full day" in r.json()["detail"]


def test_staffing_for_tomorrow_evening_and_what_if_the_launch_doubles_it():
    c = _client()
    window = {
        "queue": "support-de",
        "start": (NOW + timedelta(hours=12)).isoformat(),
        "end": (NOW + timedelta(hours=16)).isoformat(),
    }
    base = c.get("/v1/staffing", params=window).json()
    doubled = c.get("/v1/staffing", params={**window, "volume_factor": 2}).json()
    assert len(base["intervals"]) == 8 and base["totals"]["peak"] >= 1
    assert doubled["totals"]["agent_hours"] > doubled["totals"]["baseline_agent_hours"]
    posted = c.post("/v1/staffing", params=window, json={"volume_factor": 2}).json()
    assert posted["totals"] == doubled["totals"]


def test_staffing_refusals_say_what_is_missing():
    c = _client()
    r = c.get("/v1/staffing", params={"queue": "no-aht"})
    assert r.status_code == 422 and "no handling time" in r.json()["detail"]
    r = c.get("/v1/staffing", params={"queue": "support-de", "target": 1.0})
    assert r.status_code == 422  # validation: a target must be below 1
    r = c.get(
        "/v1/staffing",
        params={"queue": "support-de", "start": (NOW + timedelta(days=20)).isoformat()},
    )
    assert r.status_code == 422 and "outside the forecast" in r.json()["detail"]


def test_refresh_stores_forecasts_the_api_then_serves(tmp_path):
    store = JsonFileStore(tmp_path / "forecasts.json")
    outcome = asyncio.run(
        refresh(["support-de", "new-queue"], history=history, store=store, now=NOW, days=7)
    )
    assert (
        outcome["support-de:reply"] == "ok"
        and "at least one full day" in outcome["new-queue:reply"]
    )
    memo = MemoryStore()
    stored = asyncio.run(store.get("support-de:reply"))
    asyncio.run(memo.put(stored))
    r = _client(memo).get("/v1/forecast", params={"queue": "support-de", "days": 7})
    assert r.status_code == 200 and r.json()["workloads"][0]["method"] == stored.forecast.method


def test_periodic_refresh_runs_until_stopped():
    from services.router.planning.store import refresh_periodically

    async def scenario():
        store, stop = MemoryStore(), asyncio.Event()

        async def queues():
            stop.set()  # one round, then stop
            return ["support-de"]

        rounds = await refresh_periodically(
            3600, queues=queues, clock=lambda: NOW, stop=stop, history=history, store=store, days=2
        )
        return rounds, await store.get("support-de:reply")

    rounds, stored = asyncio.run(scenario())
    assert rounds == 1 and stored.forecast is not None and len(stored.forecast.mean) == 96


def test_a_reliability_what_if_staffs_more_than_the_expected_level():
    window = {"queue": "support-de", "start": "2025-02-17T11:00:00Z", "end": "2025-02-17T15:00:00Z"}
    r = _client().get("/v1/staffing", params={**window, "reliability": 0.95, "days": 1})
    assert r.status_code == 200, r.text
    totals = r.json()["totals"]
    assert totals["agent_hours"] > totals["baseline_agent_hours"]
    refused = _client().get("/v1/staffing", params={**window, "reliability": 1, "days": 1})
    assert refused.status_code == 422 and "every interval" in refused.json()["detail"]
