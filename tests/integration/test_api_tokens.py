"""Outside development the classifier's API (``/v1/classify`` and the rest of ``/v1``) and the
ingestor's ``GET /v1/sources`` ask for a bearer token (the services' hashed grants, as the
notifier's): none, an unknown one or an expired one is a 401 that says why, a valid one
passes; in development both stay open for the local stack. Webhooks keep their signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.classifier.app import build
from services.classifier.settings import ClassifierSettings
from services.ingestor.app import create_app
from shared import schemagen
from shared.auth import TokenGrant, digest
from tests.ingestor_support.webhooks import running
from tests.integration.test_ingestor_webhooks import settings as ingestor_settings

VALID, EXPIRED = "sb_valid-token", "sb_expired-token"
GRANTS = {
    digest(VALID): TokenGrant(subject="console", role="agent"),
    digest(EXPIRED): TokenGrant(
        subject="old", role="agent", expires_at=datetime.now(UTC) - timedelta(days=1)
    ),
}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("environment", ["test", "development"])
async def test_classify_asks_for_a_token_outside_development(sqlite_url, environment):
    app, _ = build(
        ClassifierSettings(environment=environment, database_url=sqlite_url, api_tokens=GRANTS)
    )
    message = schemagen.example_events()[0].data.model_dump(mode="json")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://classifier"
    ) as http:
        answers = {
            name: await http.post("/v1/classify", json=message, headers=headers)
            for name, headers in (
                ("none", {}),
                ("unknown", bearer("sb_nope")),
                ("expired", bearer(EXPIRED)),
                ("valid", bearer(VALID)),
            )
        }
        models = await http.get("/v1/models")
    if environment == "development":
        assert {n: a.status_code for n, a in answers.items()} == dict.fromkeys(answers, 200)
        return
    assert {n: a.status_code for n, a in answers.items()} == {
        "none": 401,
        "unknown": 401,
        "expired": 401,
        "valid": 200,
    }
    assert "missing bearer token" in answers["none"].json()["detail"]
    assert "expired" in answers["expired"].json()["detail"]
    assert answers["valid"].json()["decision"] in {"drop", "tag", "reply"}
    assert models.status_code == 401


async def test_a_service_without_configured_tokens_refuses_and_says_how_to_configure(sqlite_url):
    app, _ = build(ClassifierSettings(environment="test", database_url=sqlite_url))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://classifier"
    ) as http:
        answer = await http.get("/v1/models", headers=bearer(VALID))
    assert answer.status_code == 401 and "API_TOKENS" in answer.json()["detail"]


async def test_ingestor_sources_ask_for_a_token_outside_development(
    kafka_bootstrap, topics_ready, sqlite_url
):
    base = ingestor_settings(kafka_bootstrap, topics_ready, sqlite_url)
    app = create_app(base.model_copy(update={"api_tokens": GRANTS}))
    async with running(app) as client:
        assert (await client.get("/v1/sources")).status_code == 401
        assert (await client.get("/v1/sources", headers=bearer(EXPIRED))).status_code == 401
        answer = await client.get("/v1/sources", headers=bearer(VALID))
        assert answer.status_code == 200 and "sources" in answer.json()
        assert (await client.get("/readyz")).status_code == 200  # probes stay open
