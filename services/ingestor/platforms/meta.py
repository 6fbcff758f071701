"""Meta webhooks (Facebook Page feed and mentions, Messenger, Instagram comments and DMs, WhatsApp
Cloud): the signature check (``MetaWebhooks``, the platform's adapter) and the reader, normalising
into canonical messages. Pure: ``parse(document, context) -> Parsed``.

One POST carries ``{"object": …, "entry": [...]}``; each entry holds ``changes[]`` (feed,
mention, Instagram comments, WhatsApp ``messages``) and/or ``messaging[]`` (Messenger and
Instagram DMs). Every message of every entry becomes one item; edits and removals carry their
action. Receipts, statuses, reactions, Page profile changes and our own content (echoes, the
Page's own posts and comments, the account's own Instagram replies) are skipped on purpose
(metric only); an ``object`` or field we do not know is reported as unhandled (metric + dead
letter). Each entry, change and messaging event is read on its own (``Parsed.guard``): a
malformed one is dead-lettered and never costs the others; only a body that is not Meta's shape
at all (no ``object``/``entry`` array) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from services.ingestor.errors import SignatureRejected
from services.ingestor.normalized import Context, Parsed, canonical, edit_marker
from services.ingestor.platforms import meta_messaging
from services.ingestor.platforms.signatures import META, META_SHA1, check_hmac
from services.ingestor.platforms.signed_json import SignedJsonBatch
from services.ingestor.shapes import (
    PayloadInvalid,
    arr,
    ident,
    iso_time,
    obj,
    text,
    unix_time,
)
from shared.events import (
    TEXT_UNAVAILABLE,
    Attachment,
    Author,
    ChannelKind,
    MessageAction,
    Platform,
    utcnow,
)

SOURCE = "meta"
OBJECTS = {
    "page": Platform.FACEBOOK,
    "instagram": Platform.INSTAGRAM,
    "whatsapp_business_account": Platform.WHATSAPP,
}
_DM_PLATFORM = {"page": Platform.MESSENGER}  # a Page's messaging[] is Messenger
# "edit" is what Pages send in the wild next to the documented "edited"; "delete" next to "remove"
_VERBS = {
    "add": MessageAction.CREATED,
    "edited": MessageAction.EDITED,
    "edit": MessageAction.EDITED,
    "update": MessageAction.EDITED,
    "remove": MessageAction.DELETED,
    "delete": MessageAction.DELETED,
}
_POST_ITEMS = {"post", "status", "photo", "video", "share", "album", "note", "event"}
# Page profile and housekeeping fields (Graph API Page webhooks reference): no customer message
_PAGE_HOUSEKEEPING = {
    "about",
    "affiliation",
    "attire",
    "awards",
    "bio",
    "birthday",
    "category",
    "company_overview",
    "culinary_team",
    "current_location",
    "description",
    "email",
    "founded",
    "general_info",
    "general_manager",
    "hometown",
    "hours",
    "impressum",
    "location",
    "members",
    "mission",
    "name",
    "page_about_story",
    "page_change_proposal",
    "page_upcoming_change",
    "parking",
    "payment_options",
    "personal_info",
    "personal_interests",
    "phone",
    "picture",
    "price_range",
    "products",
    "public_transit",
    "publisher_subscriptions",
    "username",
    "website",
    "videos",
    "live_videos",
    "messaging_handovers",
    "message_reads",
    "message_deliveries",
    "messaging_optins",
    "messaging_postbacks",
    "message_echoes",
    "message_reactions",
    "messaging_referrals",
    "standby",
    "inbox_labels",
    "leadgen_update",
    "page_info",
}


def parse(document: object, context: Context) -> Parsed:
    """All messages of a Meta webhook body. Raises ``PayloadInvalid`` only when the body is not
    a Meta delivery at all; a malformed entry or item is ``parsed.invalid``."""
    doc, parsed = obj(document, "$"), Parsed()
    kind = text(doc, "object", "$")
    if kind not in OBJECTS:
        parsed.unhandled.append(f"object.{str(kind)[:32]}")
        return parsed
    for i, raw in enumerate(arr(doc, "entry", "$")):
        path = f"$.entry[{i}]"
        parsed.guard(path, raw, lambda raw=raw, path=path: _entry(kind, raw, path, context, parsed))
    return parsed


def _entry(kind: str, raw: object, path: str, context: Context, parsed: Parsed) -> None:
    entry = obj(raw, path)
    account = ident(entry, "id", path)
    for j, change in enumerate(arr(entry, "changes", path)):
        where = f"{path}.changes[{j}]"
        parsed.guard(
            where,
            change,
            lambda change=change, where=where: _change(
                kind, entry, account, obj(change, where), where, context, parsed
            ),
        )
    if "field" in entry:  # Instagram (Business Login) puts one change straight in the entry
        _change(kind, entry, account, entry, path, context, parsed)
    for j, event in enumerate(arr(entry, "messaging", path)):
        where = f"{path}.messaging[{j}]"
        parsed.guard(
            where,
            event,
            lambda event=event, where=where: meta_messaging.messaging(
                _DM_PLATFORM.get(kind, OBJECTS[kind]),
                account,
                obj(event, where),
                where,
                context,
                parsed,
            ),
        )
    parsed.skipped += ["standby"] * len(arr(entry, "standby", path))  # another app owns the thread


def _change(
    kind: str, entry: dict, account: str, change: dict, path: str, context: Context, parsed: Parsed
) -> None:
    field = text(change, "field", path)
    # a Page profile change (parking, name, hours, …) may come without a value at all
    value = obj(change.get("value") if change.get("value") is not None else {}, f"{path}.value")
    if kind == "page" and field == "feed":
        _feed(entry, account, value, f"{path}.value", context, parsed)
    elif kind == "page" and field == "mention":
        _page_mention(entry, account, value, f"{path}.value", context, parsed)
    elif kind == "page" and field in _PAGE_HOUSEKEEPING:
        parsed.skipped.append(f"page.{field}")
    elif kind == "instagram" and field in ("comments", "live_comments"):
        _instagram_comment(entry, account, value, f"{path}.value", context, parsed)
    elif kind == "instagram" and field == "mentions":
        _instagram_mention(entry, account, value, f"{path}.value", context, parsed)
    elif kind == "whatsapp_business_account" and field == "messages":
        meta_messaging.whatsapp(value, f"{path}.value", context, parsed)
    else:
        parsed.unhandled.append(f"{kind}.{str(field)[:32]}")


def _feed(
    entry: dict, account: str, value: dict, path: str, context: Context, parsed: Parsed
) -> None:
    item, verb = text(value, "item", path), text(value, "verb", path)
    if item not in _POST_ITEMS and item != "comment":
        parsed.skipped.append(f"feed.{str(item)[:32]}")  # reactions, likes: no text to answer
        return
    if verb not in _VERBS:
        parsed.skipped.append(f"feed.{verb}"[:64])  # hide/unhide and the like
        return
    action = _VERBS[verb]
    author = _author(value, path)
    if author.id == account:
        parsed.skipped.append("feed.own")  # the Page's own post or reply (like a Messenger echo)
        return
    post_id = ident(value, "post_id", path)
    message_id = ident(value, "comment_id", path) if item == "comment" else post_id
    body = text(value, "message", path) or ""
    parent = ident(value, "parent_id", path, required=False)
    message = canonical(
        path,
        platform=Platform.FACEBOOK,
        channel_kind=ChannelKind.PUBLIC_COMMENT,
        source=context.source,
        account_id=account,
        conversation_id=post_id,
        platform_message_id=message_id,
        author=author,
        text=body,
        created_at=_when(entry, value, path),
        in_reply_to=(parent or post_id) if item == "comment" else None,
        permalink=text(value, "permalink_url", path),
        attachments=_feed_media(value, path),
        action=action,
        raw_ref=context.raw_ref,
    )
    parsed.add(message, edit_marker(body))


def _page_mention(
    entry: dict, account: str, value: dict, path: str, context: Context, parsed: Parsed
) -> None:
    """``mention``: someone mentioned the Page in a post (``post_id``) or a comment (``comment_id``).
    The payload names the author (``sender_id``/``sender_name``) and, when Meta includes it, the
    ``message``; without it the text is the ``[text unavailable: …]`` placeholder (an agent opens it)."""
    item, verb = text(value, "item", path) or "post", text(value, "verb", path) or "add"
    if verb not in _VERBS:
        parsed.skipped.append(f"mention.{verb}"[:64])
        return
    author = _author(value, path)
    if author.id == account:
        parsed.skipped.append("mention.own")
        return
    post_id = ident(value, "post_id", path)
    comment_id = ident(value, "comment_id", path, required=False)
    action = _VERBS[verb]
    body = text(value, "message", path)
    if not body and action is not MessageAction.DELETED:
        body = f"{TEXT_UNAVAILABLE} facebook page mention in a {item[:32]} (the webhook carries no text)]"
    message = canonical(
        path,
        platform=Platform.FACEBOOK,
        channel_kind=ChannelKind.MENTION,
        source=context.source,
        account_id=account,
        conversation_id=post_id,
        platform_message_id=comment_id or post_id,
        author=author,
        text=body or "",
        created_at=_when(entry, value, path),
        in_reply_to=post_id if comment_id else None,
        permalink=text(value, "permalink_url", path)
        or f"https://www.facebook.com/{comment_id or post_id}",
        action=action,
        raw_ref=context.raw_ref,
    )
    parsed.add(message, edit_marker(body or ""))


def _author(value: dict, path: str) -> Author:
    """``from`` ({id, name}); older and some current payloads name the author only in
    ``sender_id``/``sender_name``; a removal may name nobody."""
    sender = value.get("from")
    if sender is not None:
        sender = obj(sender, f"{path}.from")
        return Author(
            id=ident(sender, "id", f"{path}.from"),
            display_name=text(sender, "name", f"{path}.from"),
        )
    return Author(
        id=ident(value, "sender_id", path, required=False) or "unknown",
        display_name=text(value, "sender_name", path),
    )


def _when(entry: dict, value: dict, path: str) -> datetime:
    """The item's ``created_time`` (Unix or ISO 8601), else the entry's ``time``, else now."""
    created = value.get("created_time")
    if created is not None:
        try:
            return unix_time(value, "created_time", path)
        except PayloadInvalid:
            return iso_time(created, f"{path}.created_time")
    return (
        unix_time(entry, "time", path.split(".changes", 1)[0])
        if entry.get("time") is not None
        else utcnow()
    )


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


def _instagram_comment(
    entry: dict, account: str, value: dict, path: str, context: Context, parsed: Parsed
) -> None:
    """``comments``/``live_comments``. The App Dashboard's "Test" button sends a bare
    ``{"id", "text"}`` (older) or one with ``from`` and ``media`` but no entry ``time``: the author
    is then ``unknown`` and the conversation the parent comment (or the comment itself)."""
    sender = value.get("from")
    author = Author(id="unknown")
    if sender is not None:
        sender = obj(sender, f"{path}.from")
        author = Author(
            id=ident(sender, "id", f"{path}.from"), handle=text(sender, "username", f"{path}.from")
        )
    if author.id == account:
        parsed.skipped.append("instagram.own")  # the account's own reply under its media
        return
    media = value.get("media")
    media_id = (
        ident(obj(media, f"{path}.media"), "id", f"{path}.media") if media is not None else None
    )
    comment_id = ident(value, "id", path)
    parent = ident(value, "parent_id", path, required=False)
    message = canonical(
        path,
        platform=Platform.INSTAGRAM,
        channel_kind=ChannelKind.PUBLIC_COMMENT,
        source=context.source,
        account_id=account,
        conversation_id=media_id or parent or comment_id,
        platform_message_id=comment_id,
        author=author,
        text=text(value, "text", path) or "",
        created_at=_when(entry, value, path),
        in_reply_to=parent or media_id,
        raw_ref=context.raw_ref,
    )
    parsed.add(message)


def _instagram_mention(
    entry: dict, account: str, value: dict, path: str, context: Context, parsed: Parsed
) -> None:
    """``mentions``: the account was @mentioned in a comment (``comment_id``) or a caption (``media_id``
    only). The payload carries no text or author, so the message is deferred: held, and published
    once the Graph API gave its text and author (``pollers/instagram_mentions.py``)."""
    media_id = ident(value, "media_id", path)
    comment_id = ident(value, "comment_id", path, required=False)
    message = canonical(
        path,
        platform=Platform.INSTAGRAM,
        channel_kind=ChannelKind.MENTION,
        source=context.source,
        account_id=account,
        conversation_id=media_id,
        platform_message_id=comment_id or media_id,
        author=Author(id="unknown"),
        text="",
        created_at=_when(entry, {}, path),
        in_reply_to=media_id if comment_id else None,
        raw_ref=context.raw_ref,
    )
    parsed.defer(message)


LEGACY_REFUSED = SignatureRejected(
    "missing_signature",
    "X-Hub-Signature-256 is missing; a delivery signed only with the legacy X-Hub-Signature "
    "(sha1) is accepted only when INGESTOR_META_LEGACY_SHA1=true",
)


class MetaWebhooks(SignedJsonBatch):
    """The ``PlatformAdapter`` of Meta webhooks: ``X-Hub-Signature-256`` (``sha256=<hex HMAC>`` with
    any active app secret). A delivery carrying only the legacy ``X-Hub-Signature`` (``sha1=``) is
    verified with HMAC-SHA1 when ``legacy_sha1`` allows it, else refused (401) saying so; when both
    headers are present only the SHA-256 one counts."""

    source = SOURCE

    def __init__(self, app_secrets: Sequence[bytes], *, legacy_sha1: bool) -> None:
        self._keys, self._legacy_sha1 = app_secrets, legacy_sha1

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        legacy = headers.get("x-hub-signature")
        if not headers.get("x-hub-signature-256") and legacy:
            if not self._legacy_sha1:
                raise LEGACY_REFUSED
            check_hmac(META_SHA1, legacy, self._keys, body)
        else:
            check_hmac(META, headers.get("x-hub-signature-256"), self._keys, body)
        return ""

    def parse(self, document: object, context: Context) -> Parsed:
        return parse(document, context)
