"""Webhook bodies shaped like the examples in each platform's public documentation (Meta Graph
API webhooks / Messenger / Instagram / WhatsApp Cloud ``messages`` reference, X Account Activity
data objects, Telegram Bot API ``Update``, YouTube push notifications). Used by the tests and the
bench; the ids are made up.
"""

from __future__ import annotations

T0 = 1_767_348_000  # 2026-01-02T10:00:00Z


def meta_body(obj: str, entries: list[dict]) -> dict:
    return {"object": obj, "entry": entries}


def feed_change(
    verb: str = "add",
    item: str = "comment",
    comment_id: str = "1029_77_501",
    post_id: str = "1029_77",
    message: str = "Where is my parcel?",
    parent_id: str | None = None,
    created_time: int = T0,
) -> dict:
    value = {
        "from": {"id": "6012", "name": "Jana K."},
        "item": item,
        "verb": verb,
        "post_id": post_id,
        "created_time": created_time,
        "message": message,
    }
    if item == "comment":
        value |= {"comment_id": comment_id, "parent_id": parent_id or post_id}
    return {"field": "feed", "value": value}


def page_entry(
    page_id: str = "1029", changes: list[dict] | None = None, messaging: list[dict] | None = None
) -> dict:
    entry: dict = {"id": page_id, "time": T0 * 1000}
    if changes is not None:
        entry["changes"] = changes
    if messaging is not None:
        entry["messaging"] = messaging
    return entry


def messenger_message(
    psid: str = "7001",
    page_id: str = "1029",
    mid: str = "m_AbC1",
    text: str = "Hi, my order?",
    attachments: list[dict] | None = None,
    reply_to: str | None = None,
    echo: bool = False,
) -> dict:
    message: dict = {"mid": mid, "text": text}
    if attachments:
        message["attachments"] = attachments
    if reply_to:
        message["reply_to"] = {"mid": reply_to}
    if echo:
        message["is_echo"] = True
    sender, recipient = (page_id, psid) if echo else (psid, page_id)
    return {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": T0 * 1000 + 5,
        "message": message,
    }


def instagram_comment_entry(
    account: str = "17841400001",
    comment_id: str = "17900001",
    media_id: str = "17950001",
    text: str = "Love it but it broke",
    parent_id: str | None = None,
) -> dict:
    value = {
        "id": comment_id,
        "from": {"id": "23001", "username": "mia.b"},
        "text": text,
        "media": {"id": media_id, "media_product_type": "FEED"},
    }
    if parent_id:
        value["parent_id"] = parent_id
    return {"id": account, "time": T0, "changes": [{"field": "comments", "value": value}]}


def whatsapp_entry(
    messages: list[dict],
    statuses: list[dict] | None = None,
    phone_number_id: str = "106540352242922",
    contacts: list[dict] | None = None,
) -> dict:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": contacts
        if contacts is not None
        else [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": messages,
    }
    if statuses is not None:
        value["statuses"] = statuses
    return {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}


def whatsapp_text(
    wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    body: str = "Does it come in another color?",
    sender: str = "16505551234",
) -> dict:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(T0),
        "type": "text",
        "text": {"body": body},
    }


def whatsapp_edit(
    original: str,
    wamid: str = "wamid.EDIT1",
    body: str = "Does it come in blue?",
    sender: str = "16505551234",
) -> dict:
    """A WhatsApp ``edit`` message (Meta's messages webhook reference, Coexistence)."""
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(T0 + 60),
        "type": "edit",
        "edit": {
            "original_message_id": original,
            "message": {"type": "text", "text": {"body": body}},
        },
    }


def whatsapp_revoke(
    original: str, wamid: str = "wamid.REVOKE1", sender: str = "16505551234"
) -> dict:
    """A WhatsApp ``revoke`` message: the user deleted ``original``."""
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(T0 + 120),
        "type": "revoke",
        "revoke": {"original_message_id": original},
    }


def instagram_mention_entry(
    account: str = "17841400001", media_id: str = "17950009", comment_id: str | None = "17900009"
) -> dict:
    """An Instagram ``mentions`` change (comment @mention; caption mention without ``comment_id``)."""
    value = {"media_id": media_id}
    if comment_id:
        value["comment_id"] = comment_id
    return {"id": account, "time": T0, "changes": [{"field": "mentions", "value": value}]}


def whatsapp_status(wamid: str = "wamid.OUT1") -> dict:
    return {"id": wamid, "status": "delivered", "timestamp": str(T0), "recipient_id": "16505551234"}


def x_user(user_id: str = "3001", screen_name: str = "jana_k", followers: int = 212) -> dict:
    return {
        "id": int(user_id),
        "id_str": user_id,
        "name": "Jana K.",
        "screen_name": screen_name,
        "followers_count": followers,
    }


def x_tweet(
    tweet_id: str = "1850000000000000001",
    text: str = "@acme my order never arrived",
    user: dict | None = None,
    reply_to: str | None = None,
) -> dict:
    return {
        "created_at": "Fri Jan 02 10:00:00 +0000 2026",
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "in_reply_to_status_id_str": reply_to,
        "user": user or x_user(),
        "lang": "en",
        "entities": {
            "hashtags": [],
            "urls": [],
            "user_mentions": [{"screen_name": "acme", "id_str": "2244994945"}],
        },
        "timestamp_ms": str(T0 * 1000),
    }


def x_dm(
    event_id: str = "1850000000000000900",
    sender: str = "3001",
    recipient: str = "2244994945",
    text: str = "Can you help me with a refund?",
) -> dict:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": str(T0 * 1000),
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": sender,
            "message_data": {"text": text, "entities": {"hashtags": [], "urls": []}},
        },
    }


def telegram_update(
    update_id: int = 100000001,
    kind: str = "message",
    message_id: int = 55,
    text: str = "Hello?",
    chat_type: str = "private",
    edit_date: int | None = None,
) -> dict:
    chat = (
        {"id": 5001, "type": chat_type, "first_name": "Ann"}
        if chat_type == "private"
        else {"id": -100777, "type": chat_type, "title": "Acme news"}
    )
    message: dict = {"message_id": message_id, "chat": chat, "date": T0, "text": text}
    if kind in ("message", "edited_message"):
        message["from"] = {
            "id": 5001,
            "is_bot": False,
            "first_name": "Ann",
            "username": "ann_t",
            "language_code": "en",
        }
    if edit_date:
        message["edit_date"] = edit_date
    return {"update_id": update_id, kind: message}


def youtube_atom(
    video_id: str = "dQw4w9WgXcQ",
    channel_id: str = "UCacme0000000000000000aa",
    title: str = "How to assemble the desk",
) -> bytes:
    return f"""<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">
  <link rel="hub" href="https://pubsubhubbub.appspot.com"/>
  <link rel="self" href="https://www.youtube.com/xml/feeds/videos.xml?channel_id={channel_id}"/>
  <title>YouTube video feed</title>
  <updated>2026-01-02T10:00:00.552394234+00:00</updated>
  <entry>
    <id>yt:video:{video_id}</id>
    <yt:videoId>{video_id}</yt:videoId>
    <yt:channelId>{channel_id}</yt:channelId>
    <title>{title}</title>
    <link rel="alternate" href="http://www.youtube.com/watch?v={video_id}"/>
    <author><name>Acme</name><uri>http://www.youtube.com/channel/{channel_id}</uri></author>
    <published>2026-01-02T09:00:00+00:00</published>
    <updated>2026-01-02T10:00:00.552394234+00:00</updated>
  </entry>
</feed>""".encode()


def youtube_deleted(
    video_id: str = "dQw4w9WgXcQ", channel_id: str = "UCacme0000000000000000aa"
) -> bytes:
    return f"""<feed xmlns:at="http://purl.org/atompub/tombstones/1.0" xmlns="http://www.w3.org/2005/Atom">
  <at:deleted-entry ref="yt:video:{video_id}" when="2026-01-03T10:00:00+00:00">
    <link href="https://www.youtube.com/watch?v={video_id}"/>
    <at:by><name>Acme</name><uri>https://www.youtube.com/channel/{channel_id}</uri></at:by>
  </at:deleted-entry>
</feed>""".encode()
