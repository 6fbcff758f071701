"""The webhook endpoint's refusals, over HTTP (ASGI, lifespan included). Every request here
is refused before delivery, so the broker is a closed port and the database never used."""

from __future__ import annotations

import base64
import time

import orjson
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from services.ingestor.app import create_app
from services.ingestor.platforms import standard_payload as payload
from services.ingestor.settings import IngestorSettings
from tests.ingestor_support.webhooks import example_event, running, signed
from tools.devbroker import free_port

SECRET = "whsec_" + base64.b64encode(b"api-test-secret-0123456789").decode()
URL = "/v1/webhooks/standard/shop"


def app_settings(tmp_path, **kw) -> IngestorSettings:
    return IngestorSettings(
        environment="test",
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        webhook_secrets={"shop": SecretStr(SECRET)},
        max_body_bytes=4096,
        **kw,
    )


@pytest.fixture
async def client(tmp_path):
    async with running(create_app(app_settings(tmp_path)), ready_timeout_s=None) as client:
        yield client


async def post(client, body, headers=None, url=URL):
    raw, signed_headers = signed(SECRET, body)
    return await client.post(
        url, content=raw, headers=signed_headers if headers is None else headers
    )


async def test_unknown_source_is_404_without_naming_the_configured_ones(client):
    response = await post(client, example_event(), url="/v1/webhooks/standard/other")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_source"
    assert "shop" not in response.text and SECRET[6:20] not in response.text


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded"])
async def test_non_json_content_type_is_415(client, content_type):
    raw, headers = signed(SECRET, example_event())
    response = await client.post(
        URL, content=raw, headers={**headers, "content-type": content_type}
    )
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"


async def test_json_with_parameters_and_plus_json_types_are_accepted_as_json(client):
    for content_type in ("application/json; charset=utf-8", "application/webhook+json"):
        raw, headers = signed(SECRET, b"{")
        response = await client.post(
            URL, content=raw, headers={**headers, "content-type": content_type}
        )
        assert response.status_code == 400  # past the 415 check


async def test_body_over_the_limit_is_413_by_content_length(client):
    response = await post(client, example_event(text="x" * 5000))
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


async def test_body_over_the_limit_is_413_when_no_length_is_declared(client):
    raw, headers = signed(SECRET, example_event(text="x" * 5000))

    async def chunks():
        for start in range(0, len(raw), 500):
            yield raw[start : start + 500]

    response = await client.post(URL, content=chunks(), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_missing_signature_headers_are_401_and_named(client):
    response = await client.post(URL, content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "missing_signature_headers"
    assert "webhook-signature" in response.json()["detail"]


async def test_bad_signature_is_403(client):
    raw, headers = signed(SECRET, example_event())
    response = await client.post(URL, content=raw.replace(b"acme", b"evil"), headers=headers)
    assert response.status_code == 403 and response.json()["error"] == "bad_signature"


@pytest.mark.parametrize("age", [301, -301])
async def test_stale_timestamp_is_401(client, age):
    raw, headers = signed(SECRET, example_event(), timestamp=int(time.time()) - age)
    response = await client.post(URL, content=raw, headers=headers)
    assert response.status_code == 401 and response.json()["error"] == "stale_timestamp"


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"", "line 1 column 1"),
        (b'{"type": ', "line 1"),
        (b"\xff\xfe", "UTF-8"),
        (b"[" * 1025 + b"]" * 1025, "depth"),
        (b"[" * 1500, "line 1"),
    ],
)
async def test_malformed_json_is_400_with_the_reason(client, body, fragment):
    response = await post(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json" and fragment in response.json()["detail"]


async def test_invalid_message_is_422_naming_the_fields(client):
    event = example_event(channel_kind="carrier_pigeon", created_at="yesterday")
    del event["data"]["author"]
    response = await post(client, event)
    assert response.status_code == 422
    locs = {f["loc"] for f in response.json()["fields"]}
    assert {"data.channel_kind", "data.created_at", "data.author"} <= locs


@pytest.mark.parametrize(
    "document",
    [
        [],
        "text",
        42,
        None,
        {"type": "message.created"},
        {"type": "message.created", "data": []},
        {"type": 7, "data": {}},
        {"type": "message.created", "data": {"author": "x" * 100}},
    ],
)
async def test_well_formed_json_of_the_wrong_shape_is_422(client, document):
    response = await post(client, orjson.dumps(document))
    assert response.status_code == 422 and response.json()["fields"]


async def test_an_overlong_webhook_id_is_400(client):
    raw, headers = signed(SECRET, example_event(), webhook_id="m" * 129)
    response = await client.post(URL, content=raw, headers=headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_webhook_id"


async def test_a_bug_is_a_json_500_without_internals(tmp_path, monkeypatch):
    def broken(*_args):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(payload, "to_canonical", broken)
    app = create_app(app_settings(tmp_path))
    async with running(app, ready_timeout_s=None, raise_app_exceptions=False) as client:
        response = await post(client, example_event())
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error" and "internals" not in response.text


async def test_probes_and_metrics(client):
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 503  # no broker
    await post(client, b"{")
    assert (
        REGISTRY.get_sample_value(
            "switchboard_ingestor_requests_total", {"source": "shop", "outcome": "malformed"}
        )
        >= 1
    )
    assert "switchboard_ingestor_requests_total" in (await client.get("/metrics")).text


async def test_openapi_documents_the_payload_and_the_answers(client):
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/webhooks/standard/{source}"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/MessageCreated"
    )
    assert {"200", "202", "400", "401", "403", "404", "413", "415", "422", "503"} <= set(
        operation["responses"]
    )
    assert "created_at" in spec["components"]["schemas"]["GenericMessage"]["properties"]


def test_an_unusable_secret_or_source_name_fails_at_creation(tmp_path):
    with pytest.raises(ValueError, match="shop"):
        create_app(
            app_settings(tmp_path).model_copy(
                update={"webhook_secrets": {"shop": SecretStr("whsec_!!")}}
            )
        )
    with pytest.raises(ValueError, match="source name"):
        create_app(
            app_settings(tmp_path).model_copy(
                update={"webhook_secrets": {"Bad/Name": SecretStr(SECRET)}}
            )
        )
