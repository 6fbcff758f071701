"""Platform webhooks against the real broker and databases: handshakes, signed batches (200 only
after every message was acknowledged), edits/removals, replays, bad input, health and raw bodies."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from services.ingestor.app import create_app
from services.ingestor.platforms.signatures import x_crc_response
from services.ingestor.prune import prune
from services.ingestor.settings import IngestorSettings
from shared import topics
from shared.codec import decode, header
from tests.ingestor_support import platform_examples as ex
from tests.ingestor_support.webhooks import (
    OPS,
    OPS_TOKEN,
    meta_signed,
    running,
    signed,
    telegram_signed,
    websub_signed,
    x_signed,
)
from tests.integration.test_ingestor_webhooks import records, rows
from tools.devbroker import free_port

META_SECRET, OLD_META_SECRET, X_SECRET, HUB_SECRET = (
    "meta-app-secret",
    "meta-old-secret",
    "x-consumer-secret",
    "hub-s",
)
WHSEC_NEW = "whsec_" + base64.b64encode(b"rotated-secret-new-0001").decode()
WHSEC_OLD = "whsec_" + base64.b64encode(b"rotated-secret-old-0001").decode()
CHANNEL = "UCacme0000000000000000aa"


def settings(bootstrap: str, namespace: str, database_url: str) -> IngestorSettings:
    return IngestorSettings(
        environment="test",
        admin_token=SecretStr(OPS_TOKEN),
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_namespace=namespace,
        database_url=database_url,
        webhook_secrets={"shop": [SecretStr(WHSEC_NEW), SecretStr(WHSEC_OLD)]},
        meta_app_secrets=[SecretStr(META_SECRET), SecretStr(OLD_META_SECRET)],
        meta_verify_token=SecretStr("vt-1"),
        x_consumer_secrets=[SecretStr(X_SECRET)],
        telegram_secret_tokens={"helpbot": SecretStr("tg-token")},
        youtube_hub_secrets=[SecretStr(HUB_SECRET)],
        youtube_channels=[CHANNEL],
        max_body_bytes=20_000,
    )


@pytest.fixture
async def client(kafka_bootstrap, topics_ready, database_url):
    async with running(create_app(settings(kafka_bootstrap, topics_ready, database_url))) as client:
        yield client


async def test_meta_verification_handshake(client):
    query = {"hub.mode": "subscribe", "hub.verify_token": "vt-1", "hub.challenge": "1158201444"}
    ok = await client.get("/v1/webhooks/meta", params=query)
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert (
        await client.get("/v1/webhooks/meta", params={**query, "hub.verify_token": "nope"})
    ).status_code == 403
    assert (
        await client.get("/v1/webhooks/meta", params={**query, "hub.mode": "unsubscribe"})
    ).status_code == 403


async def test_a_whatsapp_batch_is_one_event_per_message_acknowledged_before_200(
    client, kafka_bootstrap, namespace, database_url
):
    body = ex.meta_body(
        "whatsapp_business_account",
        [
            ex.whatsapp_entry(
                [
                    ex.whatsapp_text(wamid="wamid.A"),
                    ex.whatsapp_text(wamid="wamid.B", body="Second"),
                ],
                statuses=[ex.whatsapp_status()],
            ),
            ex.whatsapp_entry([ex.whatsapp_text(wamid="wamid.C", sender="4915100000")]),
        ],
    )
    raw, headers = meta_signed(
        OLD_META_SECRET, body
    )  # mid-rotation: the previous app secret still verifies
    response = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() | {"event_ids": None} == {
        "status": "accepted",
        "accepted": 3,
        "duplicates": 0,
        "skipped": 1,
        "unhandled": 0,
        "invalid": 0,
        "event_ids": None,
    }
    events = [
        decode(r.headers, r.value) for r in await records(kafka_bootstrap, topics.RAW, namespace)
    ]
    assert sorted(e.data.platform_message_id for e in events) == ["wamid.A", "wamid.B", "wamid.C"]
    assert {e.id for e in events} == set(response.json()["event_ids"])
    sha = events[0].data.raw_ref.removeprefix("raw_payloads/")
    assert rows(database_url, f"SELECT source, body FROM raw_payloads WHERE sha256 = '{sha}'") == [
        ("meta", raw)
    ]
    replay = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
    assert (
        replay.status_code == 200
        and replay.json()["duplicates"] == 3
        and replay.json()["accepted"] == 0
    )
    assert len(await records(kafka_bootstrap, topics.RAW, namespace, settle_s=1.0)) == 3
    assert len(rows(database_url, "SELECT message_key FROM ingested_messages")) == 3


async def test_page_feed_comment_edit_and_removal_are_three_events(
    client, kafka_bootstrap, namespace
):
    changes = [
        ex.feed_change(),
        ex.feed_change(verb="edited", message="edited"),
        ex.feed_change(verb="remove"),
    ]
    raw, headers = meta_signed(META_SECRET, ex.meta_body("page", [ex.page_entry(changes=changes)]))
    assert (await client.post("/v1/webhooks/meta", content=raw, headers=headers)).json()[
        "accepted"
    ] == 3
    events = [
        decode(r.headers, r.value) for r in await records(kafka_bootstrap, topics.RAW, namespace)
    ]
    assert sorted(e.data.action for e in events) == ["created", "deleted", "edited"]
    assert {r.key for r in await records(kafka_bootstrap, topics.RAW, namespace)} == {
        b"facebook:1029:1029_77"
    }


@pytest.mark.parametrize(
    "headers, status, error",
    [
        ({}, 401, "missing_signature"),
        ({"x-hub-signature-256": "sha256=" + "0" * 64}, 403, "bad_signature"),
        ({"x-hub-signature-256": "sha1=abc"}, 403, "bad_signature"),
    ],
)
async def test_meta_signature_refusals(client, headers, status, error):
    response = await client.post(
        "/v1/webhooks/meta", content=b"{}", headers={"content-type": "application/json", **headers}
    )
    assert response.status_code == status and response.json()["error"] == error


async def test_meta_bad_input_is_4xx_with_the_reason(client):
    raw, headers = meta_signed(
        META_SECRET, b'{"object": "page", "entry": {"id": 1}}'
    )  # not Meta's shape at all
    shape = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
    assert shape.status_code == 422 and "$.entry" in shape.json()["detail"]
    raw, headers = meta_signed(
        META_SECRET, b'{"object": "page", "entry": [{"id": 1, "changes": 5}]}'
    )
    one_bad_entry = await client.post(
        "/v1/webhooks/meta", content=raw, headers=headers
    )  # dead-lettered, not refused
    assert one_bad_entry.status_code == 200 and one_bad_entry.json()["invalid_items"] == [
        {"path": "$.entry[0]", "error": "$.entry[0].changes: expected an array"}
    ]
    raw, headers = meta_signed(META_SECRET, b'{"object": ')
    assert (await client.post("/v1/webhooks/meta", content=raw, headers=headers)).status_code == 400
    raw, headers = meta_signed(META_SECRET, b"x" * 20_001)
    assert (await client.post("/v1/webhooks/meta", content=raw, headers=headers)).status_code == 413
    raw, headers = meta_signed(META_SECRET, b"{}")
    wrong_type = await client.post(
        "/v1/webhooks/meta", content=raw, headers={**headers, "content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415


async def test_an_unhandled_meta_field_is_200_and_dead_lettered(client, kafka_bootstrap, namespace):
    raw, headers = meta_signed(
        META_SECRET,
        ex.meta_body("page", [ex.page_entry(changes=[{"field": "ratings", "value": {"x": 1}}])]),
    )
    response = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
    assert response.status_code == 200 and response.json()["unhandled"] == 1
    [record] = await records(kafka_bootstrap, topics.spec(topics.RAW).dlq, namespace)
    assert record.value == raw and "page.ratings" in header(record.headers, "dlq.error")


async def test_x_crc_and_signed_activity(client, kafka_bootstrap, namespace):
    crc = await client.get("/v1/webhooks/x", params={"crc_token": "challenge-123"})
    assert crc.json() == {"response_token": x_crc_response(X_SECRET, "challenge-123")}
    body = {
        "for_user_id": "2244994945",
        "tweet_create_events": [ex.x_tweet()],
        "direct_message_events": [ex.x_dm()],
        "users": {"3001": ex.x_user()},
    }
    raw, headers = x_signed(X_SECRET, body)
    assert (await client.post("/v1/webhooks/x", content=raw, headers=headers)).json()[
        "accepted"
    ] == 2
    events = [
        decode(r.headers, r.value) for r in await records(kafka_bootstrap, topics.RAW, namespace)
    ]
    assert {e.data.channel_kind for e in events} == {"mention", "direct_message"}
    assert all(e.data.author.follower_count == 212 for e in events)
    forged = await client.post(
        "/v1/webhooks/x", content=raw, headers={**headers, **x_signed("other", body)[1]}
    )
    assert forged.status_code == 403


async def test_telegram_token_update_dedup_and_unhandled(client, kafka_bootstrap, namespace):
    raw, headers = telegram_signed("tg-token", ex.telegram_update())
    first = await client.post("/v1/webhooks/telegram/helpbot", content=raw, headers=headers)
    again = await client.post("/v1/webhooks/telegram/helpbot", content=raw, headers=headers)
    assert first.json()["accepted"] == 1 and again.json()["duplicates"] == 1
    wrong = await client.post(
        "/v1/webhooks/telegram/helpbot", content=raw, headers=telegram_signed("nope", b"")[1]
    )
    missing = await client.post(
        "/v1/webhooks/telegram/helpbot", content=raw, headers={"content-type": "application/json"}
    )
    unknown = await client.post("/v1/webhooks/telegram/otherbot", content=raw, headers=headers)
    assert (wrong.status_code, missing.status_code, unknown.status_code) == (403, 401, 404)
    raw, headers = telegram_signed("tg-token", {"update_id": 7, "callback_query": {"id": "q"}})
    assert (
        await client.post("/v1/webhooks/telegram/helpbot", content=raw, headers=headers)
    ).json()["unhandled"] == 1
    [event] = [
        decode(r.headers, r.value)
        for r in await records(kafka_bootstrap, topics.RAW, namespace, settle_s=1.0)
    ]
    assert event.correlation_id == "telegram:helpbot:100000001"


async def test_youtube_intent_verification_and_notifications(client, database_url):
    topic = f"https://www.youtube.com/xml/feeds/videos.xml?channel_id={CHANNEL}"
    intent = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.challenge": "yt-ch",
        "hub.lease_seconds": "432000",
    }
    ok = await client.get("/v1/webhooks/youtube", params=intent)
    assert ok.status_code == 200 and ok.text == "yt-ch"
    other = await client.get(
        "/v1/webhooks/youtube", params={**intent, "hub.topic": topic.replace(CHANNEL, "UCother")}
    )
    assert other.status_code == 404
    [(lease, verified, renew)] = rows(
        database_url, "SELECT lease_seconds, verified_at, resubscribe_at FROM youtube_subscriptions"
    )
    assert lease == 432000 and _aware(renew) - _aware(verified) == timedelta(seconds=432000 * 0.8)
    raw, headers = websub_signed(HUB_SECRET, ex.youtube_atom())
    first = await client.post("/v1/webhooks/youtube", content=raw, headers=headers)
    again = await client.post("/v1/webhooks/youtube", content=raw, headers=headers)
    assert first.json()["new_videos"] == 1 and again.json()["new_videos"] == 0
    forged = await client.post(
        "/v1/webhooks/youtube", content=ex.youtube_atom("zzz"), headers=headers
    )
    assert forged.status_code == 202 and forged.json() == {
        "status": "rejected",
        "error": "bad_signature",
    }
    raw, headers = websub_signed(HUB_SECRET, ex.youtube_deleted())
    assert (await client.post("/v1/webhooks/youtube", content=raw, headers=headers)).json()[
        "removed"
    ] == 1
    [(video, deleted, polled)] = rows(
        database_url, "SELECT video_id, deleted_at, comments_polled_at FROM youtube_videos"
    )
    assert video == "dQw4w9WgXcQ" and deleted is not None and polled is None


async def test_standard_webhooks_accept_every_active_secret(client):
    for secret, message_id in ((WHSEC_NEW, "rot-1"), (WHSEC_OLD, "rot-2")):
        raw, headers = signed(
            secret,
            {
                "type": "message.created",
                "data": {
                    "channel_kind": "direct_message",
                    "account_id": "acme",
                    "conversation_id": "c",
                    "message_id": message_id,
                    "author": {"id": "u"},
                    "text": "hi",
                    "created_at": "2026-01-02T10:00:00Z",
                    "attachments": [
                        {"type": "image", "url": "https://cdn.example/1.jpg", "mime": "image/jpeg"}
                    ],
                },
            },
        )
        assert (
            await client.post("/v1/webhooks/standard/shop", content=raw, headers=headers)
        ).status_code == 202


async def test_sources_report_last_event_and_errors(client):
    raw, headers = telegram_signed("tg-token", ex.telegram_update(update_id=42))
    await client.post("/v1/webhooks/telegram/helpbot", content=raw, headers=headers)
    await client.post(
        "/v1/webhooks/meta", content=b"{}", headers={"content-type": "application/json"}
    )
    sources = {
        s["source"]: s for s in (await client.get("/v1/sources", headers=OPS)).json()["sources"]
    }
    assert set(sources) == {"shop", "meta", "x", "youtube", "telegram.helpbot"}
    assert (
        sources["telegram.helpbot"]["last_event_at"] is not None
        and sources["telegram.helpbot"]["messages"] == 1
    )
    assert (
        sources["meta"]["errors"] == {"unauthorized": 1}
        and sources["meta"]["last_event_at"] is None
    )
    metrics = (await client.get("/metrics")).text
    assert (
        'switchboard_ingestor_source_last_event_timestamp_seconds{source="telegram.helpbot"}'
        in metrics
    )


async def test_a_batch_is_503_when_the_broker_does_not_acknowledge(sqlite_url):
    app = create_app(settings(f"127.0.0.1:{free_port()}", "", sqlite_url))
    async with running(app, ready_timeout_s=None) as client:
        raw, headers = meta_signed(
            META_SECRET,
            ex.meta_body("whatsapp_business_account", [ex.whatsapp_entry([ex.whatsapp_text()])]),
        )
        response = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
    assert response.status_code == 503 and response.headers["retry-after"].isdigit()
    assert rows(sqlite_url, "SELECT * FROM ingested_messages") == []


async def test_prune_keeps_seven_days_of_dedup_and_the_configured_raw_retention(
    client, database_url
):
    raw, headers = telegram_signed("tg-token", ex.telegram_update(update_id=77))
    await client.post("/v1/webhooks/telegram/helpbot", content=raw, headers=headers)
    config = settings("unused:1", "", database_url)
    assert await prune(config, datetime.now(UTC) + timedelta(days=7)) == (0, 0)
    assert await prune(config, datetime.now(UTC) + timedelta(days=8, minutes=1)) == (1, 0)
    assert await prune(config, datetime.now(UTC) + timedelta(days=31)) == (0, 1)


def _aware(value) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)
