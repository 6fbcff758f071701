"""Meta webhooks (Facebook Page feed, Messenger, Instagram comments and DMs, WhatsApp Cloud)
normalised into canonical messages. Pure: ``parse(document, context) -> Parsed``.

One POST carries ``{"object": …, "entry": [...]}``; each entry holds ``changes[]`` (feed,
Instagram comments, WhatsApp ``messages``) and/or ``messaging[]`` (Messenger and Instagram
DMs). Every message of every entry becomes one item; edits and removals carry their action.
Receipts, statuses, reactions and our own echoes are skipped on purpose (metric only); an
``object`` or field we do not know is reported as unhandled (metric + dead letter).
"""

from __future__ import annotations

from services.ingestor import meta_messaging
from services.ingestor.normalized import Context, Parsed, canonical, edit_marker
from services.ingestor.shapes import PayloadInvalid, arr, ident, obj, text, unix_time
from shared.events import Attachment, Author, ChannelKind, MessageAction, Platform

OBJECTS = {"page": Platform.FACEBOOK, "instagram": Platform.INSTAGRAM,
           "whatsapp_business_account": Platform.WHATSAPP}
_DM_PLATFORM = {"page": Platform.MESSENGER}  # a Page's messaging[] is Messenger
_VERBS = {"add": MessageAction.CREATED, "edited": MessageAction.EDITED, "remove": MessageAction.DELETED}
_POST_ITEMS = {"post", "status", "photo", "video", "share"}


def parse(document: object, context: Context) -> Parsed:
    """All messages of a Meta webhook body. Raises ``PayloadInvalid``."""
    doc, parsed = obj(document, "$"), Parsed()
    kind = text(doc, "object", "$")
    if kind not in OBJECTS:
        parsed.unhandled.append(f"object.{str(kind)[:32]}")
        return parsed
    for i, raw in enumerate(arr(doc, "entry", "$")):
        path = f"$.entry[{i}]"
        entry = obj(raw, path)
        account = ident(entry, "id", path)
        for j, change in enumerate(arr(entry, "changes", path)):
            _change(kind, entry, account, obj(change, f"{path}.changes[{j}]"), f"{path}.changes[{j}]", context, parsed)
        if "field" in entry:  # Instagram (Business Login) puts one change straight in the entry
            _change(kind, entry, account, entry, path, context, parsed)
        for j, event in enumerate(arr(entry, "messaging", path)):
            meta_messaging.messaging(_DM_PLATFORM.get(kind, OBJECTS[kind]), account, obj(event, f"{path}.messaging[{j}]"),
                                     f"{path}.messaging[{j}]", context, parsed)
        parsed.skipped += ["standby"] * len(arr(entry, "standby", path))  # another app owns the thread
    return parsed


def _change(kind: str, entry: dict, account: str, change: dict, path: str, context: Context, parsed: Parsed) -> None:
    field = text(change, "field", path)
    value = obj(change.get("value"), f"{path}.value")
    if kind == "page" and field == "feed":
        _feed(entry, account, value, f"{path}.value", context, parsed)
    elif kind == "instagram" and field in ("comments", "live_comments"):
        _instagram_comment(entry, account, value, f"{path}.value", context, parsed)
    elif kind == "instagram" and field == "mentions":
        _instagram_mention(entry, account, value, f"{path}.value", context, parsed)
    elif kind == "whatsapp_business_account" and field == "messages":
        meta_messaging.whatsapp(value, f"{path}.value", context, parsed)
    else:
        parsed.unhandled.append(f"{kind}.{str(field)[:32]}")


def _feed(entry: dict, account: str, value: dict, path: str, context: Context, parsed: Parsed) -> None:
    item, verb = text(value, "item", path), text(value, "verb", path)
    if item not in _POST_ITEMS and item != "comment":
        parsed.skipped.append(f"feed.{str(item)[:32]}")  # reactions, likes: no text to answer
        return
    if verb not in _VERBS:
        parsed.skipped.append(f"feed.{verb}"[:64])  # hide/unhide and the like
        return
    action = _VERBS[verb]
    post_id = ident(value, "post_id", path)
    message_id = ident(value, "comment_id", path) if item == "comment" else post_id
    author = _author(value, path, action)
    body = text(value, "message", path) or ""
    when = unix_time(value, "created_time", path) if "created_time" in value else unix_time(entry, "time", path)
    parent = ident(value, "parent_id", path, required=False)
    message = canonical(
        path, platform=Platform.FACEBOOK, channel_kind=ChannelKind.PUBLIC_COMMENT, source=context.source,
        account_id=account, conversation_id=post_id, platform_message_id=message_id, author=author, text=body,
        created_at=when, in_reply_to=(parent or post_id) if item == "comment" else None,
        permalink=text(value, "permalink_url", path), attachments=_feed_media(value, path), action=action,
        raw_ref=context.raw_ref)
    parsed.add(message, edit_marker(body))


def _author(value: dict, path: str, action: MessageAction) -> Author:
    sender = value.get("from")
    if sender is None and action is MessageAction.DELETED:
        return Author(id=ident(value, "sender_id", path, required=False) or "unknown")
    sender = obj(sender, f"{path}.from")
    return Author(id=ident(sender, "id", f"{path}.from"), display_name=text(sender, "name", f"{path}.from"))


def _feed_media(value: dict, path: str) -> tuple[Attachment, ...]:
    found = [Attachment(type="image", url=url) for url in _urls(value, "photo", path)]
    found += [Attachment(type="image", url=url) for url in _urls(value, "photos", path)]
    found += [Attachment(type="video", url=url) for url in _urls(value, "video", path)]
    found += [Attachment(type="link", url=url) for url in _urls(value, "link", path)]
    return tuple(found)


def _urls(value: dict, key: str, path: str) -> list[str]:
    raw = value.get(key)
    urls = raw if isinstance(raw, list) else [] if raw is None else [raw]
    if not all(isinstance(url, str) and len(url) <= 4096 for url in urls):
        raise PayloadInvalid(f"{path}.{key}: expected URL string(s)")
    return urls


def _instagram_comment(entry: dict, account: str, value: dict, path: str, context: Context, parsed: Parsed) -> None:
    sender = obj(value.get("from"), f"{path}.from")
    media = obj(value.get("media"), f"{path}.media")
    media_id = ident(media, "id", f"{path}.media")
    message = canonical(
        path, platform=Platform.INSTAGRAM, channel_kind=ChannelKind.PUBLIC_COMMENT, source=context.source,
        account_id=account, conversation_id=media_id, platform_message_id=ident(value, "id", path),
        author=Author(id=ident(sender, "id", f"{path}.from"), handle=text(sender, "username", f"{path}.from")),
        text=text(value, "text", path) or "", created_at=unix_time(entry, "time", path.rsplit(".changes", 1)[0]),
        in_reply_to=ident(value, "parent_id", path, required=False) or media_id, raw_ref=context.raw_ref)
    parsed.add(message)


def _instagram_mention(entry: dict, account: str, value: dict, path: str, context: Context, parsed: Parsed) -> None:
    """``mentions``: the account was @mentioned in a comment (``comment_id``) or a caption (``media_id``
    only). The payload carries no text or author, so the message is deferred: held, and published
    once the Graph API gave its text and author (``pollers/instagram_mentions.py``)."""
    media_id = ident(value, "media_id", path)
    comment_id = ident(value, "comment_id", path, required=False)
    message = canonical(
        path, platform=Platform.INSTAGRAM, channel_kind=ChannelKind.MENTION, source=context.source,
        account_id=account, conversation_id=media_id, platform_message_id=comment_id or media_id,
        author=Author(id="unknown"), text="", created_at=unix_time(entry, "time", path.rsplit(".changes", 1)[0]),
        in_reply_to=media_id if comment_id else None, raw_ref=context.raw_ref)
    parsed.defer(message)
