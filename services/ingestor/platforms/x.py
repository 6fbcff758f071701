"""X Account Activity webhooks: the signature and CRC (``XWebhooks``, the platform's adapter) and
the reader, normalising into canonical messages. Pure: ``parse(document, context)``.

A body is ``{"for_user_id": <subscribed account>, "<kind>_events": [...], "users": {...}}``.
``tweet_create_events`` (mentions, replies, quotes of the account) are public mentions;
``direct_message_events`` of type ``message_create`` are direct messages; ``tweet_delete_events``
become removals. Our own posts, DMs and deletions of our own tweets are skipped; likes, follows, typing and read receipts
are skipped on purpose; any other ``*_events`` key is unhandled. Each event is read on its own: a
malformed one is ``parsed.invalid`` (dead-lettered), the others go through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from services.ingestor.normalized import Context, Parsed, canonical
from services.ingestor.platforms.signatures import X, check_hmac, x_crc_response
from services.ingestor.platforms.signed_json import SignedJsonBatch
from services.ingestor.shapes import (
    PayloadInvalid,
    arr,
    count,
    ident,
    obj,
    text,
    unix_time,
)
from shared.events import Attachment, Author, ChannelKind, MessageAction, Platform

SOURCE = "x"
_SKIPPED = {
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "user_event",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
}
_HANDLED = {"tweet_create_events", "direct_message_events", "tweet_delete_events"}
_CREATED_AT = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"


def parse(document: object, context: Context) -> Parsed:
    """All messages of an Account Activity body. Raises ``PayloadInvalid``."""
    doc, parsed = obj(document, "$"), Parsed()
    account = ident(doc, "for_user_id", "$")
    users = (
        doc.get("users") if isinstance(doc.get("users"), dict) else {}
    )  # profiles only enrich DMs
    for key, read in (
        (
            "tweet_create_events",
            lambda event, path: _tweet(account, obj(event, path), path, context, parsed),
        ),
        (
            "direct_message_events",
            lambda event, path: _direct_message(
                account, users, obj(event, path), path, context, parsed
            ),
        ),
        (
            "tweet_delete_events",
            lambda event, path: _deletion(account, obj(event, path), path, context, parsed),
        ),
    ):
        for i, raw in enumerate(
            arr(doc, key, "$")
        ):  # each event on its own: a malformed one costs no other
            path = f"$.{key}[{i}]"
            parsed.guard(path, raw, lambda raw=raw, path=path, read=read: read(raw, path))
    for key in doc:
        if key not in _HANDLED and (key in _SKIPPED or key.endswith("_events")):
            (parsed.skipped if key in _SKIPPED else parsed.unhandled).append(key[:64])
    return parsed


def _tweet(account: str, tweet: dict, path: str, context: Context, parsed: Parsed) -> None:
    user = obj(tweet.get("user"), f"{path}.user")
    author = _user(user, f"{path}.user")
    if author.id == account:
        parsed.skipped.append("tweet.own")
        return
    tweet_id = ident(tweet, "id_str", path)
    extended = tweet.get("extended_tweet")
    full = obj(extended, f"{path}.extended_tweet") if extended is not None else tweet
    body = text(full, "full_text", path) or text(tweet, "text", path) or ""
    reply_to = ident(tweet, "in_reply_to_status_id_str", path, required=False)
    parsed.add(
        canonical(
            path,
            platform=Platform.X,
            channel_kind=ChannelKind.MENTION,
            source=context.source,
            account_id=account,
            conversation_id=reply_to or tweet_id,
            platform_message_id=tweet_id,
            author=author,
            text=body,
            language_hint=(text(tweet, "lang", path) or None)
            if tweet.get("lang") != "und"
            else None,
            created_at=_tweet_time(tweet, path),
            in_reply_to=reply_to,
            raw_ref=context.raw_ref,
            permalink=f"https://x.com/{author.handle or 'i'}/status/{tweet_id}",
            attachments=_media(
                obj(full.get("extended_entities", tweet.get("entities", {})), f"{path}.entities"),
                f"{path}.entities",
            ),
        )
    )


def _user(user: dict, path: str) -> Author:
    return Author(
        id=ident(user, "id_str", path) if "id_str" in user else ident(user, "id", path),
        handle=text(user, "screen_name", path),
        display_name=text(user, "name", path),
        follower_count=count(user, "followers_count", path),
    )


def _tweet_time(tweet: dict, path: str) -> datetime:
    if "timestamp_ms" in tweet:
        return unix_time(tweet, "timestamp_ms", path)
    raw = text(tweet, "created_at", path)
    try:
        return datetime.strptime(raw or "", _CREATED_AT)
    except ValueError:
        raise PayloadInvalid(
            f"{path}.created_at: expected like 'Wed Oct 10 20:19:24 +0000 2018'"
        ) from None


def _media(entities: dict, path: str) -> tuple[Attachment, ...]:
    found = []
    for k, raw in enumerate(arr(entities, "media", path)):
        media = obj(raw, f"{path}.media[{k}]")
        found.append(
            Attachment(
                type=(text(media, "type", f"{path}.media[{k}]") or "image")[:64],
                url=text(media, "media_url_https", f"{path}.media[{k}]"),
            )
        )
    return tuple(found)


def _direct_message(
    account: str, users: dict, event: dict, path: str, context: Context, parsed: Parsed
) -> None:
    if event.get("type") != "message_create":
        parsed.skipped.append(f"dm.{str(event.get('type'))[:32]}")
        return
    create = obj(event.get("message_create"), f"{path}.message_create")
    sender = ident(create, "sender_id", f"{path}.message_create")
    if sender == account:
        parsed.skipped.append("dm.own")  # sent by the subscribed account itself
        return
    data = obj(create.get("message_data"), f"{path}.message_create.message_data")
    profile = users.get(sender)
    author = (
        _user(obj(profile, f"$.users.{sender}"), f"$.users.{sender}")
        if profile is not None
        else Author(id=sender)
    )
    attachment = data.get("attachment")
    media = obj(attachment, f"{path}.attachment").get("media") if attachment is not None else None
    parsed.add(
        canonical(
            path,
            platform=Platform.X,
            channel_kind=ChannelKind.DIRECT_MESSAGE,
            source=context.source,
            account_id=account,
            conversation_id=sender,
            platform_message_id=ident(event, "id", path),
            author=author,
            text=text(data, "text", f"{path}.message_data") or "",
            created_at=unix_time(event, "created_timestamp", path),
            attachments=_media({"media": [media]}, f"{path}.attachment")
            if media is not None
            else (),
            raw_ref=context.raw_ref,
        )
    )


def _deletion(account: str, event: dict, path: str, context: Context, parsed: Parsed) -> None:
    status = obj(event.get("status"), f"{path}.status")
    tweet_id = ident(status, "id", f"{path}.status")
    if ident(status, "user_id", f"{path}.status") == account:
        parsed.skipped.append(
            "tweet_delete.own"
        )  # the account deleted its own tweet: nothing of a customer's
        return
    parsed.add(
        canonical(
            path,
            platform=Platform.X,
            channel_kind=ChannelKind.MENTION,
            source=context.source,
            account_id=account,
            conversation_id=tweet_id,
            platform_message_id=tweet_id,
            author=Author(id=ident(status, "user_id", f"{path}.status")),
            text="",
            created_at=unix_time(event, "timestamp_ms", path),
            action=MessageAction.DELETED,
            raw_ref=context.raw_ref,
        )
    )


class XWebhooks(SignedJsonBatch):
    """The ``PlatformAdapter`` of X Account Activity: ``x-twitter-webhooks-signature``
    (``sha256=<base64 HMAC>`` with any active consumer secret)."""

    source = SOURCE

    def __init__(self, consumer_secrets: Sequence[str]) -> None:
        self._secrets = list(consumer_secrets)
        self._keys = [secret.encode() for secret in self._secrets]

    def crc_response(self, crc_token: str) -> str:
        """The CRC check's ``response_token`` (with the current secret)."""
        return x_crc_response(self._secrets[0], crc_token)

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        check_hmac(X, headers.get("x-twitter-webhooks-signature"), self._keys, body)
        return ""

    def parse(self, document: object, context: Context) -> Parsed:
        return parse(document, context)
