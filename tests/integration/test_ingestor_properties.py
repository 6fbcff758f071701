"""Property: whatever a correctly signed (or unsigned) sender posts, the ingestor answers
2xx/4xx, or 503 — never another 5xx. Runs against the real broker and SQLite."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from services.ingestor.app import create_app
from services.ingestor.settings import IngestorSettings
from tests.ingestor_support.webhooks import (
    example_event,
    meta_signed,
    running,
    signed,
    telegram_signed,
    websub_signed,
    x_signed,
)

SECRET = "whsec_" + base64.b64encode(b"property-test-secret-7").decode()
URL = "/v1/webhooks/standard/shop"
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
numbers = st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | numbers | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
FIELDS = [*example_event()["data"], "author"]


def near_valid(replacements: dict, drop: list, event_type: str | None) -> bytes:
    """A valid event with some fields replaced by arbitrary JSON, some dropped, maybe retyped."""
    event = example_event()
    event["data"].update(replacements)
    for name in drop:
        event["data"].pop(name, None)
    if event_type is not None:
        event["type"] = event_type
    return orjson.dumps(event)


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(orjson.dumps),
    st.builds(
        near_valid,
        st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
        st.lists(st.sampled_from(FIELDS), max_size=2),
        st.none() | st.just("message.created") | text,
    ),
)


@pytest.fixture
async def client(kafka_bootstrap, topics_ready, sqlite_url):
    app = create_app(
        IngestorSettings(
            environment="test",
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_topic_namespace=topics_ready,
            database_url=sqlite_url,
            webhook_secrets={"shop": SecretStr(SECRET)},
            meta_app_secrets=[SecretStr("m")],
            x_consumer_secrets=[SecretStr("x")],
            telegram_secret_tokens={"bot": SecretStr("t")},
            youtube_hub_secrets=[SecretStr("y")],
        )
    )
    async with running(app) as client:
        yield client


def acceptable(status: int) -> bool:
    return status < 500 or status == 503


@PROPERTY
@given(body=bodies)
async def test_signed_arbitrary_bodies_never_cause_a_server_error(client, body):
    raw, headers = signed(SECRET, body)
    response = await client.post(URL, content=raw, headers=headers)
    event(f"status {response.status_code}")  # the spread shows with --hypothesis-show-statistics
    assert acceptable(response.status_code), response.text
    assert response.headers["content-type"] == "application/json"


@PROPERTY
@given(
    body=st.binary(max_size=200),
    webhook_id=text,
    stamp=text,
    signature=text,
    content_type=st.sampled_from(["application/json", "text/plain", "application/x+json"]),
)
async def test_unsigned_hostile_requests_never_cause_a_server_error(
    client, body, webhook_id, stamp, signature, content_type
):
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": signature,
        "content-type": content_type,
    }
    headers = {k: v for k, v in headers.items() if v.isascii() and v.isprintable()}
    response = await client.post(URL, content=body, headers=headers)
    assert acceptable(response.status_code) and response.status_code != 202, response.text


PLATFORMS = {
    "/v1/webhooks/meta": lambda body: meta_signed("m", body),
    "/v1/webhooks/x": lambda body: x_signed("x", body),
    "/v1/webhooks/telegram/bot": lambda body: telegram_signed("t", body),
    "/v1/webhooks/youtube": lambda body: websub_signed("y", body),
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    url=st.sampled_from(sorted(PLATFORMS)),
    body=st.binary(max_size=200) | json_values.map(orjson.dumps),
    forged=st.booleans(),
)
async def test_platform_endpoints_never_answer_a_server_error(client, url, body, forged):
    raw, headers = PLATFORMS[url](body)
    if forged:
        headers = {
            name: value[:-2] + "00" if name != "content-type" else value
            for name, value in headers.items()
        }
    response = await client.post(url, content=raw, headers=headers)
    event(f"{url} {response.status_code}")
    assert acceptable(response.status_code), response.text
    assert not (forged and response.status_code == 200), response.text
