"""Platform parsers (pure) on payloads shaped like each platform's documentation: every message
of a batch, edits and removals, skipped receipts/echoes, unhandled kinds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from services.ingestor.normalized import Context
from services.ingestor.platforms import meta, telegram, youtube
from services.ingestor.platforms import x as xaa
from services.ingestor.shapes import PayloadInvalid
from shared.events import ChannelKind, MessageAction, Platform
from tests.ingestor_support import platform_examples as ex

CTX = Context("src", "raw_payloads/abc")
T0 = datetime.fromtimestamp(ex.T0, UTC)


def test_page_feed_comment_post_edit_and_removal():
    body = ex.meta_body(
        "page",
        [
            ex.page_entry(
                changes=[
                    ex.feed_change(),
                    ex.feed_change(item="status", verb="add", message="Visitor post"),
                    ex.feed_change(verb="edited", message="Where is my parcel??"),
                    ex.feed_change(verb="remove"),
                    ex.feed_change(item="reaction"),
                    ex.feed_change(verb="hide"),
                ]
            )
        ],
    )
    parsed = meta.parse(body, CTX)
    comment, post, edit, removal = (item.message for item in parsed.items)
    assert (
        comment.platform is Platform.FACEBOOK and comment.channel_kind is ChannelKind.PUBLIC_COMMENT
    )
    assert (comment.account_id, comment.conversation_id, comment.platform_message_id) == (
        "1029",
        "1029_77",
        "1029_77_501",
    )
    assert (
        comment.author.display_name == "Jana K."
        and comment.created_at == T0
        and comment.in_reply_to == "1029_77"
    )
    assert comment.raw_ref == "raw_payloads/abc" and comment.action is MessageAction.CREATED
    assert post.platform_message_id == "1029_77" and post.in_reply_to is None
    assert edit.action is MessageAction.EDITED and removal.action is MessageAction.DELETED
    keys = [item.dedup_key for item in parsed.items]
    assert len(set(keys)) == 4 and keys[0] == "facebook:1029:1029_77_501"
    assert parsed.skipped == ["feed.reaction", "feed.hide"] and parsed.unhandled == []


def test_two_edits_with_different_text_are_two_keys_the_same_edit_one():
    def key(text):
        return (
            meta.parse(
                ex.meta_body(
                    "page", [ex.page_entry(changes=[ex.feed_change(verb="edited", message=text)])]
                ),
                CTX,
            )
            .items[0]
            .dedup_key
        )

    assert key("a") != key("b") and key("a") == key("a")


def test_messenger_batch_with_attachment_reply_edit_echo_and_receipts():
    attachment = [{"type": "image", "payload": {"url": "https://cdn.fb.example/1.jpg"}}]
    events = [
        ex.messenger_message(attachments=attachment, reply_to="m_prev"),
        ex.messenger_message(mid="m_2", echo=True),
        {
            "sender": {"id": "7001"},
            "recipient": {"id": "1029"},
            "timestamp": ex.T0 * 1000 + 9,
            "message_edit": {"mid": "m_AbC1", "text": "Hi, my order #42?", "num_edit": 1},
        },
        {
            "sender": {"id": "7001"},
            "recipient": {"id": "1029"},
            "delivery": {"mids": ["x"], "watermark": 1},
        },
        {
            "sender": {"id": "7001"},
            "recipient": {"id": "1029"},
            "timestamp": 1,
            "brand_new_thing": {},
        },
    ]
    parsed = meta.parse(ex.meta_body("page", [ex.page_entry(messaging=events)]), CTX)
    first, edit = (item.message for item in parsed.items)
    assert first.platform is Platform.MESSENGER and first.channel_kind is ChannelKind.DIRECT_MESSAGE
    assert (
        first.conversation_id == "7001"
        and first.author.id == "7001"
        and first.in_reply_to == "m_prev"
    )
    assert first.attachments[0].type == "image" and first.attachments[0].url.endswith("1.jpg")
    assert edit.action is MessageAction.EDITED and parsed.items[1].dedup_key.endswith("#edited:1")
    assert parsed.skipped == ["messaging.echo", "messaging.delivery"]
    assert parsed.unhandled == ["messaging.unknown"]


def test_instagram_comments_both_shapes_and_direct_messages():
    entry = ex.instagram_comment_entry(parent_id="17900000")
    flat = {
        "id": "17841400001",
        "time": ex.T0,
        **entry["changes"][0],
    }  # Business Login puts the change in the entry
    dm = ex.page_entry(
        page_id="17841400001", messaging=[ex.messenger_message(page_id="17841400001")]
    )
    parsed = meta.parse(ex.meta_body("instagram", [entry, flat, dm]), CTX)
    comment, again, direct = (item.message for item in parsed.items)
    assert comment.platform is Platform.INSTAGRAM and comment.author.handle == "mia.b"
    assert (
        comment.conversation_id == "17950001"
        and comment.in_reply_to == "17900000"
        and comment == again
    )
    assert (
        direct.platform is Platform.INSTAGRAM and direct.channel_kind is ChannelKind.DIRECT_MESSAGE
    )


def test_whatsapp_messages_media_and_statuses():
    image = {
        "from": "16505551234",
        "id": "wamid.IMG",
        "timestamp": str(ex.T0),
        "type": "image",
        "image": {
            "caption": "Broken on arrival",
            "mime_type": "image/jpeg",
            "sha256": "x",
            "id": "1003",
        },
        "context": {"from": "15550783881", "id": "wamid.OUT0"},
    }
    entries = [
        ex.whatsapp_entry([ex.whatsapp_text(), image], statuses=[ex.whatsapp_status()]),
        ex.whatsapp_entry(
            [
                ex.whatsapp_text(wamid="wamid.2", body="Hello?"),
                {"from": "1", "id": "r", "timestamp": "1", "type": "reaction", "reaction": {}},
                {"from": "1", "id": "o", "timestamp": "1", "type": "hologram", "hologram": {}},
            ]
        ),
    ]
    parsed = meta.parse(ex.meta_body("whatsapp_business_account", entries), CTX)
    text, photo, second = (item.message for item in parsed.items)
    assert text.platform is Platform.WHATSAPP and text.text == "Does it come in another color?"
    assert text.author.display_name == "Sheena Nelson" and text.account_id == "106540352242922"
    assert text.conversation_id == "16505551234" and text.created_at == T0
    assert photo.text == "Broken on arrival" and photo.attachments[0].mime == "image/jpeg"
    assert photo.attachments[0].id == "1003" and photo.in_reply_to == "wamid.OUT0"
    assert second.platform_message_id == "wamid.2"
    assert parsed.skipped == ["whatsapp.status", "whatsapp.reaction"] and parsed.unhandled == [
        "whatsapp.message.hologram"
    ]


def test_an_unknown_meta_object_or_field_is_unhandled():
    assert meta.parse({"object": "user", "entry": []}, CTX).unhandled == ["object.user"]
    body = ex.meta_body("page", [ex.page_entry(changes=[{"field": "ratings", "value": {}}])])
    assert meta.parse(body, CTX).unhandled == ["page.ratings"]


@pytest.mark.parametrize(
    "document, where", [([], "$"), ({"object": "page", "entry": {}}, "$.entry")]
)
def test_a_body_that_is_not_a_meta_delivery_is_refused_naming_the_path(document, where):
    with pytest.raises(PayloadInvalid, match=re.escape(where)):
        meta.parse(document, CTX)


@pytest.mark.parametrize(
    "document, where",
    [
        ({"object": "page", "entry": [{"id": None}]}, "entry[0].id"),
        (
            ex.meta_body(
                "page",
                [
                    ex.page_entry(
                        changes=[{"field": "feed", "value": {"item": "comment", "verb": "add"}}]
                    )
                ],
            ),
            "post_id",
        ),
        (
            ex.meta_body(
                "whatsapp_business_account", [ex.whatsapp_entry([{"type": "text", "from": "1"}])]
            ),
            "messages[0]",
        ),
    ],
)
def test_a_malformed_meta_item_is_kept_as_invalid_naming_the_path(document, where):
    parsed = meta.parse(document, CTX)
    [bad] = parsed.invalid
    assert where in f"{bad.path} {bad.error}" and parsed.items == []


def test_x_mentions_dms_deletions_and_skips():
    own = ex.x_tweet(tweet_id="9", user=ex.x_user("2244994945", "acme"))
    extended = ex.x_tweet(tweet_id="10", reply_to="8")
    extended["extended_tweet"] = {
        "full_text": "@acme the long version",
        "extended_entities": {
            "media": [{"type": "photo", "media_url_https": "https://pbs.twimg.example/1.jpg"}]
        },
    }
    body = {
        "for_user_id": "2244994945",
        "tweet_create_events": [ex.x_tweet(), own, extended],
        "direct_message_events": [
            ex.x_dm(),
            ex.x_dm(event_id="2", sender="2244994945", recipient="3001"),
        ],
        "users": {"3001": ex.x_user()},
        "tweet_delete_events": [
            {"status": {"id": "11", "user_id": "3001"}, "timestamp_ms": str(ex.T0 * 1000)}
        ],
        "favorite_events": [{}],
        "new_fancy_events": [{}],
    }
    parsed = xaa.parse(body, CTX)
    mention, long_one, dm, deletion = (item.message for item in parsed.items)
    assert mention.platform is Platform.X and mention.channel_kind is ChannelKind.MENTION
    assert (
        mention.author.follower_count == 212
        and mention.author.handle == "jana_k"
        and mention.created_at == T0
    )
    assert (
        mention.permalink == "https://x.com/jana_k/status/1850000000000000001"
        and mention.language_hint == "en"
    )
    assert (
        long_one.text == "@acme the long version"
        and long_one.in_reply_to == "8"
        and long_one.conversation_id == "8"
    )
    assert long_one.attachments[0].url.endswith("1.jpg")
    assert (
        dm.channel_kind is ChannelKind.DIRECT_MESSAGE
        and dm.author.follower_count == 212
        and dm.conversation_id == "3001"
    )
    assert deletion.action is MessageAction.DELETED and deletion.platform_message_id == "11"
    assert sorted(parsed.skipped) == ["dm.own", "favorite_events", "tweet.own"]
    assert parsed.unhandled == ["new_fancy_events"]


def test_x_created_at_is_parsed_when_there_is_no_timestamp_ms():
    tweet = ex.x_tweet()
    del tweet["timestamp_ms"]
    assert (
        xaa.parse({"for_user_id": "1", "tweet_create_events": [tweet]}, CTX)
        .items[0]
        .message.created_at
        == T0
    )
    tweet["created_at"] = "yesterday"
    [bad] = xaa.parse({"for_user_id": "1", "tweet_create_events": [tweet]}, CTX).invalid
    assert "created_at" in bad.error and bad.path == "$.tweet_create_events[0]"


def test_telegram_message_edit_channel_post_and_unhandled():
    message = telegram.parse(ex.telegram_update(), CTX, "helpbot").items[0]
    assert message.dedup_key == "telegram:helpbot:update:100000001"
    m = message.message
    assert m.platform is Platform.TELEGRAM and m.channel_kind is ChannelKind.DIRECT_MESSAGE
    assert (m.account_id, m.conversation_id, m.platform_message_id) == (
        "helpbot",
        "5001",
        "5001:55",
    )
    assert m.author.handle == "ann_t" and m.author.display_name == "Ann" and m.language_hint == "en"
    edit = telegram.parse(
        ex.telegram_update(2, "edited_message", edit_date=ex.T0 + 60), CTX, "helpbot"
    ).items[0]
    assert (
        edit.message.action is MessageAction.EDITED
        and edit.message.platform_message_id == "5001:55"
    )
    post = (
        telegram.parse(ex.telegram_update(3, "channel_post", chat_type="channel"), CTX, "helpbot")
        .items[0]
        .message
    )
    assert (
        post.channel_kind is ChannelKind.PUBLIC_COMMENT and post.author.display_name == "Acme news"
    )
    other = telegram.parse({"update_id": 4, "callback_query": {"id": "1"}}, CTX, "helpbot")
    assert other.items == [] and other.unhandled == ["update.callback_query"]


def test_telegram_photo_keeps_the_largest_size_and_requires_an_update_id():
    update = ex.telegram_update()
    update["message"] |= {
        "photo": [{"file_id": "small"}, {"file_id": "large"}],
        "caption": "Look",
        "text": None,
    }
    message = telegram.parse(update, CTX, "helpbot").items[0].message
    assert message.attachments[0].id == "large" and message.text == "Look"
    with pytest.raises(PayloadInvalid, match="update_id"):
        telegram.parse({"message": {}}, CTX, "helpbot")


def test_youtube_atom_new_video_and_deletion():
    notices, removed = youtube.parse_atom(ex.youtube_atom())
    assert (
        notices
        == [
            youtube.VideoNotice(
                "dQw4w9WgXcQ",
                "UCacme0000000000000000aa",
                "How to assemble the desk",
                datetime(2026, 1, 2, 9, tzinfo=UTC),
            )
        ]
        and removed == []
    )
    notices, removed = youtube.parse_atom(ex.youtube_deleted())
    assert notices == [] and removed[0].video_id == "dQw4w9WgXcQ"


@pytest.mark.parametrize(
    "body, error",
    [
        (b"<feed", youtube.MalformedXml),
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><feed>&a;</feed>',
            youtube.MalformedXml,
        ),
        (b"<rss/>", PayloadInvalid),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title></entry></feed>',
            PayloadInvalid,
        ),
    ],
)
def test_youtube_bad_xml_is_refused(body, error):
    with pytest.raises(error):
        youtube.parse_atom(body)


def test_youtube_topics_and_lease_renewal():
    assert youtube.channel_of(youtube.topic_for("UCabc")) == "UCabc"
    assert (
        youtube.channel_of("https://www.youtube.com/feeds/videos.xml?channel_id=UCabc") == "UCabc"
    )
    assert youtube.channel_of("https://evil.example/xml/feeds/videos.xml?channel_id=UCabc") is None
    verified = datetime(2026, 1, 1, tzinfo=UTC)
    assert (youtube.resubscribe_at(verified, 432000) - verified).total_seconds() == 432000 * 0.8
    assert (youtube.resubscribe_at(verified, 3600) - verified).total_seconds() == 1800


def test_feed_removals_without_an_author_page_mentions_and_own_items():
    removal = {
        "field": "feed",
        "value": {
            "item": "comment",
            "verb": "remove",
            "post_id": "1029_77",
            "comment_id": "1029_77_501",
            "created_time": ex.T0,
        },
    }
    own_mention = {
        "field": "mention",
        "value": {"post_id": "1029_5", "item": "post", "verb": "add", "sender_id": "1029"},
    }
    parsed = meta.parse(
        ex.meta_body("page", [ex.page_entry(changes=[removal, own_mention, {"field": "name"}])]),
        CTX,
    )
    [removed] = (item.message for item in parsed.items)
    assert removed.action is MessageAction.DELETED and removed.author.id == "unknown"
    assert parsed.skipped == ["mention.own", "page.name"] and parsed.invalid == []


def test_telegram_business_messages_and_what_customers_send_without_writing():
    update = ex.telegram_update(5, "business_message")
    update["business_message"] |= {
        "text": None,
        "venue": {
            "title": "Acme Store",
            "address": "Main St 1",
            "location": {"latitude": 1.5, "longitude": 2.5},
        },
    }
    venue = telegram.parse(update, CTX, "helpbot").items[0].message
    assert (
        venue.text == "[location] Acme Store, Main St 1" and venue.action is MessageAction.CREATED
    )
    contact = ex.telegram_update(6)
    contact["message"] |= {
        "text": None,
        "contact": {"phone_number": "+49301234", "first_name": "Max"},
    }
    assert (
        telegram.parse(contact, CTX, "helpbot").items[0].message.text == "[contact] Max: +49301234"
    )
    broken = ex.telegram_update(7)
    del broken["message"]["chat"]
    parsed = telegram.parse(
        broken, CTX, "helpbot"
    )  # dead-lettered, not refused: Telegram would re-send it
    assert (
        parsed.items == []
        and parsed.invalid[0].path == "$.message"
        and "chat" in parsed.invalid[0].error
    )


def test_whatsapp_flow_replies_and_unknown_interactive_kinds():
    flow = {
        "from": "16505551234",
        "id": "wamid.FLOW",
        "timestamp": str(ex.T0),
        "type": "interactive",
        "interactive": {
            "type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": "Sent", "response_json": '{"order": "A-17"}'},
        },
    }
    odd = {
        **flow,
        "id": "wamid.ODD",
        "interactive": {"type": "carousel_reply", "carousel_reply": {}},
    }
    parsed = meta.parse(
        ex.meta_body("whatsapp_business_account", [ex.whatsapp_entry([flow, odd])]), CTX
    )
    [message] = (item.message for item in parsed.items)
    assert message.text == 'Sent\n{"order": "A-17"}' and message.attachments[0].type == "flow_reply"
    assert [bad.path.rsplit(".", 1)[-1] for bad in parsed.invalid] == ["messages[1]"]
