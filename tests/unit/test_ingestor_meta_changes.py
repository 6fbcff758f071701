"""WhatsApp ``edit`` / ``revoke`` messages and Instagram ``mentions`` changes, on payloads shaped
like Meta's webhook references: the original message's id with the right action and kind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingestor.normalized import Context
from services.ingestor.platforms import meta
from services.ingestor.pollers import instagram_mentions as mentions
from services.ingestor.shapes import PayloadInvalid
from shared.events import ChannelKind, MessageAction, Platform
from tests.ingestor_support import platform_examples as ex

CTX = Context("meta", "raw_payloads/abc")
ORIGINAL = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="


def test_whatsapp_edits_and_revokes_report_the_original_message():
    body = ex.meta_body(
        "whatsapp_business_account",
        [
            ex.whatsapp_entry(
                [
                    ex.whatsapp_edit(ORIGINAL, wamid="wamid.E1", body="Blue, please"),
                    ex.whatsapp_edit(ORIGINAL, wamid="wamid.E2", body="Red, please"),
                    ex.whatsapp_revoke(ORIGINAL),
                ]
            )
        ],
    )
    parsed = meta.parse(body, CTX)
    first, second, revoked = parsed.items
    assert [i.message.action for i in parsed.items] == [
        MessageAction.EDITED,
        MessageAction.EDITED,
        MessageAction.DELETED,
    ]
    assert {i.message.platform_message_id for i in parsed.items} == {ORIGINAL}
    assert (
        first.message.text == "Blue, please"
        and first.message.channel_kind is ChannelKind.DIRECT_MESSAGE
    )
    assert (
        first.message.conversation_id == "16505551234"
        and first.message.author.display_name == "Sheena Nelson"
    )
    assert first.message.created_at == datetime.fromtimestamp(ex.T0 + 60, UTC)
    assert first.dedup_key != second.dedup_key  # each edit counts once, and never as the original
    assert first.dedup_key.endswith("#edited:wamid.E1") and revoked.dedup_key.endswith("#deleted")
    assert revoked.message.text == "" and parsed.unhandled == []


def test_a_whatsapp_edit_of_an_unknown_content_type_is_unhandled_and_bad_shapes_are_refused():
    edit = ex.whatsapp_edit(ORIGINAL)
    edit["edit"]["message"] = {"type": "poll", "poll": {}}
    parsed = meta.parse(ex.meta_body("whatsapp_business_account", [ex.whatsapp_entry([edit])]), CTX)
    assert parsed.items == [] and parsed.unhandled == ["whatsapp.edit.poll"]
    broken = ex.whatsapp_revoke(ORIGINAL)
    broken["revoke"] = {"original_message_id": 3.5}
    [bad] = meta.parse(
        ex.meta_body("whatsapp_business_account", [ex.whatsapp_entry([broken])]), CTX
    ).invalid
    assert "revoke.original_message_id" in bad.error and bad.path.endswith(".messages[0]")


def test_instagram_mentions_in_comments_and_captions():
    parsed = meta.parse(
        ex.meta_body(
            "instagram",
            [
                ex.instagram_mention_entry(),
                ex.instagram_mention_entry(media_id="17950010", comment_id=None),
            ],
        ),
        CTX,
    )
    assert (
        parsed.items == []
    )  # held for the Graph API fetch of their text and author, not published as they are
    comment, caption = (item.message for item in parsed.deferred)
    assert (comment.platform, comment.channel_kind, comment.action) == (
        Platform.INSTAGRAM,
        ChannelKind.MENTION,
        MessageAction.CREATED,
    )
    assert (comment.platform_message_id, comment.conversation_id, comment.in_reply_to) == (
        "17900009",
        "17950009",
        "17950009",
    )
    assert (caption.platform_message_id, caption.in_reply_to, caption.account_id) == (
        "17950010",
        None,
        "17841400001",
    )
    assert parsed.unhandled == []
    [bad] = meta.parse(
        ex.meta_body(
            "instagram",
            [
                {
                    "id": "1",
                    "time": ex.T0,
                    "changes": [{"field": "mentions", "value": {"comment_id": "5"}}],
                }
            ],
        ),
        CTX,
    ).invalid
    assert "media_id" in bad.error


def test_a_graph_answer_gives_a_held_mention_its_text_author_and_time():
    comment, caption = (
        item.message
        for item in meta.parse(
            ex.meta_body(
                "instagram",
                [
                    ex.instagram_mention_entry(),
                    ex.instagram_mention_entry(media_id="17950010", comment_id=None),
                ],
            ),
            CTX,
        ).deferred
    )
    found = mentions.with_content(
        comment,
        {
            "mentioned_comment": {
                "id": "17900009",
                "text": "@acme hi",
                "username": "jana.k",
                "timestamp": "2026-11-22T10:15:00+0000",
                "from": {"id": "178414009001", "username": "jana.k"},
            },
            "id": "17841400001",
        },
        is_comment=True,
    )
    assert (found.text, found.author.id, found.author.handle, found.created_at) == (
        "@acme hi",
        "178414009001",
        "jana.k",
        datetime(2026, 11, 22, 10, 15, tzinfo=UTC),
    )
    assert (found.platform_message_id, found.conversation_id, found.in_reply_to) == (
        "17900009",
        "17950009",
        "17950009",
    )
    # no `from`, an unreadable time: the username is the author, the webhook's time stays
    bare = mentions.with_content(
        caption,
        {
            "mentioned_media": {
                "caption": "new @acme boots",
                "username": "b.fan",
                "timestamp": "yesterday",
            }
        },
        is_comment=False,
    )
    assert (bare.text, bare.author.id, bare.author.handle, bare.created_at) == (
        "new @acme boots",
        "b.fan",
        "b.fan",
        caption.created_at,
    )
    assert mentions.graph_time("2026-11-22T10:15:00") is None  # no offset: not trusted
    for answer in (
        {"id": "17841400001"},
        {"mentioned_comment": {"text": 5}},
        {"mentioned_comment": []},
    ):
        with pytest.raises(PayloadInvalid):
            mentions.with_content(comment, answer, is_comment=True)
