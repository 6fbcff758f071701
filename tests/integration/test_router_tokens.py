"""API tokens expire and can be revoked (SQLite and PostgreSQL): a token past its lifetime or
revoked by an admin gets a 401 that says which; the list never shows a token or its whole hash;
only an admin lists and revokes; an unknown id is a 404; an old token without expiry keeps
working. The four-eyes reviewer checks through the API (a trainee cannot approve)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from services.router.app import build
from services.router.settings import DEV_ROUTER_ADMIN_TOKEN, RouterSettings
from services.router.tables import ApiToken
from tests.integration.test_router_dispatch import Clock

ADMIN = {"Authorization": f"Bearer {DEV_ROUTER_ADMIN_TOKEN}"}


@pytest.fixture
async def router(database_url):
    clock = Clock()
    app, runtime = build(
        RouterSettings(database_url=database_url, sweep_interval_s=3600, token_ttl_days=30),
        clock=clock,
    )
    await runtime.prepare()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as http:
        yield runtime, http, clock
    await runtime.relay.close()


async def issue(http, subject, role, **extra) -> tuple[dict, dict]:
    answer = await http.post(
        "/v1/admin/tokens", json={"subject": subject, "role": role, **extra}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return {"Authorization": f"Bearer {body['token']}"}, body


async def test_a_token_expires_after_its_lifetime_and_says_so(router):
    runtime, http, clock = router
    default, body = await issue(http, "anna", "agent")
    short, short_body = await issue(http, "emma", "agent", expires_in_days=1)
    assert body["expires_at"].startswith(str((clock.now + timedelta(days=30)).date()))
    assert short_body["expires_at"].startswith(str((clock.now + timedelta(days=1)).date()))
    assert (await http.get("/v1/queues", headers=default)).status_code == 200
    assert (await http.get("/v1/queues", headers=short)).status_code == 200

    clock.now += timedelta(days=2)
    refused = await http.get("/v1/queues", headers=short)
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    assert (await http.get("/v1/queues", headers=default)).status_code == 200
    clock.now += timedelta(days=29)
    assert (await http.get("/v1/queues", headers=default)).status_code == 401


async def test_an_admin_lists_and_revokes_tokens_and_a_revoked_token_is_refused_at_once(router):
    runtime, http, clock = router
    lead, body = await issue(http, "maria", "lead", team="care-de")
    raw_token = lead["Authorization"].removeprefix("Bearer ")
    listed = (await http.get("/v1/admin/tokens", headers=ADMIN)).json()["tokens"]
    assert [t["subject"] for t in listed] == ["maria"]
    assert len(listed[0]["id"]) == 12 and raw_token not in str(listed)
    async with (
        runtime.dispatcher._sessions() as s
    ):  # the id is a prefix of the hash, never the hash
        [row] = [r for r in (await s.execute(ApiToken.__table__.select())).all()]
        assert listed[0]["id"] != row.token_hash and row.token_hash.startswith(listed[0]["id"])

    assert (await http.get("/v1/admin/tokens", headers=lead)).status_code == 403
    assert (await http.delete(f"/v1/admin/tokens/{body['id']}", headers=lead)).status_code == 403
    assert (await http.get("/v1/kpis", headers=lead)).status_code == 200

    revoked = await http.delete(f"/v1/admin/tokens/{body['id']}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "admin"
    refused = await http.get("/v1/kpis", headers=lead)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    again = await http.delete(f"/v1/admin/tokens/{body['id']}", headers=ADMIN)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # the first time stays
    for unknown in ("0123456789ab", "nothex", "x" * 64):
        answer = await http.delete(f"/v1/admin/tokens/{unknown}", headers=ADMIN)
        assert answer.status_code == 404 and "no API token" in answer.json()["detail"]


async def test_a_token_from_before_expiry_existed_keeps_working(router):
    runtime, http, clock = router
    old, body = await issue(http, "anna", "agent")
    async with runtime.dispatcher._sessions() as s:
        row = (await s.execute(ApiToken.__table__.select())).one()
        await s.execute(
            ApiToken.__table__.update()
            .where(ApiToken.token_hash == row.token_hash)
            .values(expires_at=None)
        )
        await s.commit()
    clock.now += timedelta(days=3650)
    assert (await http.get("/v1/queues", headers=old)).status_code == 200
    assert (await http.get("/v1/queues", headers={"Authorization": "Bearer nope"})).json()[
        "detail"
    ] == "unknown token"
