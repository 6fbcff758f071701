"""WhatsApp edits/revokes and Instagram mentions through the signed Meta webhook, the real broker
and both databases: one event each, keyed to the original message, and a replay adds nothing."""

from __future__ import annotations

from shared import topics
from shared.codec import decode
from shared.events import ChannelKind, MessageAction
from tests.ingestor_support import platform_examples as ex
from tests.ingestor_support.webhooks import meta_signed
from tests.integration.test_ingestor_platforms import META_SECRET, client  # noqa: F401 - the app fixture
from tests.integration.test_ingestor_webhooks import records


async def test_whatsapp_edit_revoke_and_instagram_mention(client, kafka_bootstrap, namespace):  # noqa: F811
    original = ex.whatsapp_text(wamid="wamid.ORIG")
    whatsapp = ex.meta_body(
        "whatsapp_business_account",
        [
            ex.whatsapp_entry(
                [
                    original,
                    ex.whatsapp_edit("wamid.ORIG", body="Actually blue"),
                    ex.whatsapp_revoke("wamid.ORIG"),
                ]
            )
        ],
    )
    instagram = ex.meta_body("instagram", [ex.instagram_mention_entry()])
    for body in (whatsapp, instagram):
        raw, headers = meta_signed(META_SECRET, body)
        answer = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
        assert answer.status_code == 200 and answer.json()["unhandled"] == 0, answer.text
        replay = await client.post("/v1/webhooks/meta", content=raw, headers=headers)
        assert (
            replay.json()["accepted"] == 0
            and replay.json()["duplicates"] == answer.json()["accepted"]
        )
    events = [
        decode(r.headers, r.value).data
        for r in await records(kafka_bootstrap, topics.RAW, namespace)
    ]
    assert sorted((e.platform_message_id, e.action, e.channel_kind) for e in events) == [
        ("17900009", MessageAction.CREATED, ChannelKind.MENTION),
        ("wamid.ORIG", MessageAction.CREATED, ChannelKind.DIRECT_MESSAGE),
        ("wamid.ORIG", MessageAction.DELETED, ChannelKind.DIRECT_MESSAGE),
        ("wamid.ORIG", MessageAction.EDITED, ChannelKind.DIRECT_MESSAGE),
    ]
