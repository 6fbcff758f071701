"""Conformance: real platform deliveries (``ingestor_deliveries``) through the signed endpoints, the
real broker and both databases. Each class of delivery is answered 2xx with the right number of
canonical events (zero for housekeeping); a mixed delivery publishes its good items and
dead-letters its malformed one once (a re-send neither publishes nor dead-letters again); forged
signatures stay refused."""

from __future__ import annotations

import pytest

from services.ingestor.app import create_app
from services.ingestor.platforms.signatures import meta_legacy_signature
from shared import topics
from shared.codec import decode, header
from shared.events import TEXT_UNAVAILABLE, ChannelKind, MessageAction, Platform
from tests.ingestor_support.webhooks import (
    meta_signed,
    running,
    signed,
    telegram_signed,
    x_signed,
)
from tests.integration import ingestor_deliveries as d
from tests.integration.test_ingestor_platforms import (  # noqa: F401
    META_SECRET,
    WHSEC_NEW,
    X_SECRET,
    client,
    settings,
)
from tests.integration.test_ingestor_webhooks import records

DLQ = topics.spec(topics.RAW).dlq


async def _post(client, url: str, signed_body) -> dict:
    raw, headers = signed_body
    answer = await client.post(url, content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _events(kafka_bootstrap, namespace, settle_s: float = 0.5) -> dict:
    found = [
        decode(r.headers, r.value).data
        for r in await records(kafka_bootstrap, topics.RAW, namespace, settle_s)
    ]
    return {(e.platform_message_id, e.action): e for e in found}


async def test_a_mixed_page_delivery_publishes_its_good_items_and_dead_letters_the_malformed_one_once(
    client, kafka_bootstrap, namespace
):  # noqa: F811
    broken = d.feed_comment("1029_77_999")
    del broken["value"]["post_id"]
    body = d.meta(
        "page",
        d.page(
            d.feed_comment(),
            d.page_field_without_value("parking"),
            d.feed_comment_by_sender(),
            d.feed_comment("1029_77_502", verb="edit", message="Edited: still no parcel"),
            d.feed_post_by_page(),
            broken,
            d.page_mention(),
            d.page_mention("4444_5555", "4444_5555_12", "@Acme your app is down"),
        ),
    )
    answer = await _post(client, "/v1/webhooks/meta", meta_signed(META_SECRET, body))
    assert (answer["accepted"], answer["skipped"], answer["invalid"]) == (5, 2, 1)
    assert answer["invalid_items"] == [
        {
            "path": "$.entry[0].changes[5]",
            "error": "$.entry[0].changes[5].value.post_id: expected an id (string or integer)",
        }
    ]
    events = await _events(kafka_bootstrap, namespace)
    assert sorted(events) == [
        ("1029_77_501", "created"),
        ("1029_77_502", "edited"),
        ("1029_77_601", "created"),
        ("4444_5555", "created"),
        ("4444_5555_12", "created"),
    ]
    by_sender = events["1029_77_601", "created"]
    assert (by_sender.author.id, by_sender.author.display_name, by_sender.text) == (
        "6013",
        "Ola N.",
        "Still waiting for my refund",
    )
    assert events["1029_77_502", "edited"].text == "Edited: still no parcel"
    post_mention, comment_mention = (
        events["4444_5555", "created"],
        events["4444_5555_12", "created"],
    )
    assert post_mention.channel_kind is ChannelKind.MENTION and post_mention.text.startswith(
        TEXT_UNAVAILABLE
    )
    assert (post_mention.author.id, post_mention.author.display_name) == ("4444", "Kim L.")
    assert (
        comment_mention.text == "@Acme your app is down"
        and comment_mention.in_reply_to == "4444_5555"
    )
    [letter] = await records(kafka_bootstrap, DLQ, namespace)
    assert header(letter.headers, "dlq.reason") == "invalid_item"
    assert header(letter.headers, "dlq.item_path") == "$.entry[0].changes[5]"
    assert "post_id" in header(letter.headers, "dlq.error") and header(
        letter.headers, "dlq.raw_ref"
    ).startswith("raw_")
    assert b'"1029_77_999"' in letter.value
    again = await _post(
        client, "/v1/webhooks/meta", meta_signed(META_SECRET, body)
    )  # Meta re-sends
    assert (again["accepted"], again["duplicates"], again["invalid"]) == (0, 5, 1)
    assert (
        len(await records(kafka_bootstrap, DLQ, namespace, settle_s=1.0)) == 1
    )  # dead-lettered once
    assert len(await records(kafka_bootstrap, topics.RAW, namespace, settle_s=0.2)) == 5


@pytest.mark.parametrize(
    "body, message_id, author",
    [
        (d.instagram_test_button("comments"), "17865799348089039", "232323232"),
        (d.instagram_test_button("live_comments"), "17865799348089040", "232323232"),
        (d.instagram_bare_comment(), "17865799348089041", "unknown"),
    ],
)
async def test_instagram_dashboard_test_deliveries_are_accepted(
    client, kafka_bootstrap, namespace, body, message_id, author
):  # noqa: F811
    assert (await _post(client, "/v1/webhooks/meta", meta_signed(META_SECRET, body)))[
        "accepted"
    ] == 1
    [event] = (await _events(kafka_bootstrap, namespace)).values()
    assert (event.platform, event.platform_message_id, event.author.id, event.text) == (
        Platform.INSTAGRAM,
        message_id,
        author,
        "This is an example.",
    )


async def test_the_instagram_accounts_own_reply_is_skipped(client, kafka_bootstrap, namespace):  # noqa: F811
    body = d.meta(
        "instagram",
        {
            "id": d.IG,
            "time": d.T0,
            "changes": [
                d.instagram_comment("1790001"),
                d.instagram_comment("1790002", user_id=d.IG, text="Sorry! DM us"),
            ],
        },
    )
    answer = await _post(client, "/v1/webhooks/meta", meta_signed(META_SECRET, body))
    assert (answer["accepted"], answer["skipped"]) == (1, 1)
    assert list(await _events(kafka_bootstrap, namespace)) == [("1790001", "created")]


async def test_whatsapp_every_customer_message_type_and_business_scoped_ids(
    client, kafka_bootstrap, namespace
):  # noqa: F811
    broken = d.wa_text("wamid.BROKEN")
    del broken["id"]
    body = d.whatsapp(
        [
            d.wa_text("wamid.TEXT"),
            d.wa_bsuid_text("wamid.BSUID"),
            d.wa_button_reply(),
            d.wa_list_reply(),
            d.wa_location(),
            d.wa_contacts(),
            d.wa_order(),
            broken,
        ],
        contacts=[{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}, d.BSUID_CONTACT],
    )
    answer = await _post(client, "/v1/webhooks/meta", meta_signed(META_SECRET, body))
    assert (answer["accepted"], answer["invalid"], answer["unhandled"]) == (7, 1, 0)
    events = {key[0]: event for key, event in (await _events(kafka_bootstrap, namespace)).items()}
    scoped = events["wamid.BSUID"]
    assert (scoped.conversation_id, scoped.author.id, scoped.author.display_name, scoped.text) == (
        d.BSUID,
        d.BSUID,
        "Kerry Fisher",
        "Hi, I paid twice",
    )
    button = events["wamid.BTN"]
    assert (
        button.text,
        button.attachments[0].type,
        button.attachments[0].id,
        button.in_reply_to,
    ) == ("Yes, refund", "button_reply", "refund-yes", "wamid.OUT1")
    assert events["wamid.LIST"].text == "Delivery - Where is my order?"
    assert events["wamid.LIST"].attachments[0].id == "topic-delivery"
    location = events["wamid.LOC"]
    assert (
        location.text
        == "[location] Acme Store Mitte, Alexanderplatz 1, Berlin (52.520008, 13.404954)"
    )
    assert (
        location.attachments[0].type == "location"
        and "52.520008,13.404954" in location.attachments[0].url
    )
    assert events["wamid.VCARD"].text == "[contact] Max Muster: +49 30 1234567, max@example.org"
    assert events["wamid.VCARD"].attachments[0].id == "49301234567"
    assert (
        events["wamid.ORDER"].text
        == "Please deliver before Friday\n[order] 2 x SKU-1 (9.99 EUR); 1 x SKU-2 (24.5 EUR)"
    )
    assert events["wamid.ORDER"].attachments[0].id == "cat-77"
    [letter] = await records(kafka_bootstrap, DLQ, namespace)
    assert header(letter.headers, "dlq.item_path") == "$.entry[0].changes[0].value.messages[7]"


async def test_a_whatsapp_status_only_delivery_with_business_scoped_ids_is_acknowledged(
    client, kafka_bootstrap, namespace
):  # noqa: F811
    body = d.whatsapp([], contacts=[{"user_id": d.BSUID}], statuses=[d.wa_bsuid_status()])
    answer = await _post(client, "/v1/webhooks/meta", meta_signed(META_SECRET, body))
    assert (answer["status"], answer["accepted"], answer["skipped"]) == ("skipped", 0, 1)


async def test_telegram_service_and_housekeeping_updates_are_acknowledged_and_skipped(
    client, kafka_bootstrap, namespace
):  # noqa: F811
    for n, fields in enumerate(d.TELEGRAM_SERVICE.values()):
        answer = await _post(
            client,
            "/v1/webhooks/telegram/helpbot",
            telegram_signed("tg-token", d.tg_message(700 + n, **fields)),
        )
        assert (answer["status"], answer["accepted"], answer["skipped"]) == ("skipped", 0, 1)
    answer = await _post(
        client,
        "/v1/webhooks/telegram/helpbot",
        telegram_signed("tg-token", d.TELEGRAM_HOUSEKEEPING),
    )
    assert (answer["status"], answer["skipped"], answer["unhandled"]) == ("skipped", 1, 0)
    located = d.tg_message(800, location={"latitude": 52.52, "longitude": 13.40})
    assert (
        await _post(client, "/v1/webhooks/telegram/helpbot", telegram_signed("tg-token", located))
    )["accepted"] == 1
    [event] = (await _events(kafka_bootstrap, namespace)).values()
    assert event.text == "[location] (52.52, 13.4)"


async def test_x_own_deletions_are_skipped_and_a_malformed_event_costs_no_other(
    client, kafka_bootstrap, namespace
):  # noqa: F811
    broken = d.x_tweet("1850000000000000003")
    broken["created_at"], broken["timestamp_ms"] = "yesterday", None
    body = {
        "for_user_id": d.X_ACCOUNT,
        "tweet_create_events": [d.x_tweet("1850000000000000002"), broken],
        "tweet_delete_events": [
            d.x_delete("1850000000000000077", d.X_ACCOUNT),
            d.x_delete("1850000000000000078", "3001"),
        ],
    }
    answer = await _post(client, "/v1/webhooks/x", x_signed(X_SECRET, body))
    assert (answer["accepted"], answer["skipped"], answer["invalid"]) == (2, 1, 1)
    assert sorted(await _events(kafka_bootstrap, namespace)) == [
        ("1850000000000000002", MessageAction.CREATED),
        ("1850000000000000078", MessageAction.DELETED),
    ]
    [letter] = await records(kafka_bootstrap, DLQ, namespace)
    assert header(letter.headers, "dlq.item_path") == "$.tweet_create_events[1]"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "ping"},
        {"type": "message.delivered", "data": ["m-1"]},
        {"type": "conversation.closed", "data": {"id": "c-1"}},
    ],
)
async def test_standard_webhooks_of_other_types_are_ignored_with_2xx(client, event):  # noqa: F811
    raw, headers = signed(WHSEC_NEW, event)
    answer = await client.post("/v1/webhooks/standard/shop", content=raw, headers=headers)
    assert answer.status_code == 202 and answer.json()["status"] == "ignored", answer.text


@pytest.fixture
async def legacy_client(kafka_bootstrap, topics_ready, database_url):
    config = settings(kafka_bootstrap, topics_ready, database_url).model_copy(
        update={"meta_legacy_sha1": True}
    )
    async with running(create_app(config)) as client:
        yield client


async def test_legacy_sha1_meta_signature_only_when_allowed(
    client, legacy_client, kafka_bootstrap, namespace
):  # noqa: F811
    raw, _ = meta_signed(META_SECRET, d.whatsapp([d.wa_text("wamid.SHA1")]))
    legacy = {
        "x-hub-signature": meta_legacy_signature(META_SECRET, raw),
        "content-type": "application/json",
    }
    refused = await client.post("/v1/webhooks/meta", content=raw, headers=legacy)
    assert refused.status_code == 401 and "INGESTOR_META_LEGACY_SHA1" in refused.json()["detail"]
    accepted = await legacy_client.post("/v1/webhooks/meta", content=raw, headers=legacy)
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1
    forged = {**legacy, "x-hub-signature": meta_legacy_signature("not-the-secret", raw)}
    assert (
        await legacy_client.post("/v1/webhooks/meta", content=raw, headers=forged)
    ).status_code == 403
    # both headers: only SHA-256 counts, so a good SHA-1 cannot carry a tampered SHA-256
    both = {**legacy, "x-hub-signature-256": "sha256=" + "0" * 64}
    assert (
        await legacy_client.post("/v1/webhooks/meta", content=raw, headers=both)
    ).status_code == 403
    assert list(await _events(kafka_bootstrap, namespace)) == [("wamid.SHA1", "created")]
