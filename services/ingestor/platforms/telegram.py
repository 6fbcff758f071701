"""Telegram Bot API updates: the secret-token check (``TelegramBot``, one adapter per bot) and the
reader, normalising into canonical messages. Pure: ``parse(document, context, bot)``.

An update is ``{"update_id": n, "<kind>": {...}}`` with exactly one kind. ``message``,
``channel_post`` and ``business_message`` are new messages, their ``edited_*`` kinds edits. The
dedup key is the ``update_id`` (Telegram re-sends an unanswered update with the same id).

Service messages (``pinned_message``, ``new_chat_members``, ``left_chat_member``,
``new_chat_title``, …: something happened in the chat, nobody wrote) and housekeeping updates
(``my_chat_member``, ``chat_member``, reactions, polls, boosts, …) are acknowledged and skipped,
never published as empty customer messages. A location, venue, contact, poll or dice becomes
readable text. Other kinds (``callback_query``, new ones) are unhandled (dead letter); a
malformed message is ``parsed.invalid`` (dead-lettered once): only a body without an
``update_id`` is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.ingestor.normalized import Context, Item, Parsed, RawBody, canonical
from services.ingestor.platforms.signatures import check_token
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


def source_name(bot: str) -> str:
    """The source name of a configured bot."""
    return f"telegram.{bot}"


KINDS = {
    "message": MessageAction.CREATED,
    "edited_message": MessageAction.EDITED,
    "channel_post": MessageAction.CREATED,
    "edited_channel_post": MessageAction.EDITED,
    "business_message": MessageAction.CREATED,
    "edited_business_message": MessageAction.EDITED,
}
HOUSEKEEPING = (
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
    "poll",
    "poll_answer",
    "chat_boost",
    "removed_chat_boost",
    "business_connection",
    "deleted_business_messages",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
)
SERVICE = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "chat_shared",
    "connected_website",
    "write_access_allowed",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_winners",
    "giveaway_completed",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "gift",
    "unique_gift",
    "paid_message_price_changed",
    "direct_message_price_changed",
    "checklist_tasks_done",
    "checklist_tasks_added",
)
_MEDIA = {
    "document": "file",
    "video": "video",
    "audio": "audio",
    "voice": "audio",
    "sticker": "sticker",
    "animation": "video",
    "video_note": "video",
}


def parse(document: object, context: Context, bot: str) -> Parsed:
    """The one message of a Telegram update addressed to ``bot``. Raises ``PayloadInvalid``."""
    update, parsed = obj(document, "$"), Parsed()
    update_id = count(update, "update_id", "$")
    if update_id is None:
        raise PayloadInvalid("$.update_id: required")
    kind = next((key for key in KINDS if key in update), None)
    if kind is None:
        other = next((key for key in update if key != "update_id"), "empty")
        (parsed.skipped if other in HOUSEKEEPING else parsed.unhandled).append(
            f"update.{str(other)[:32]}"
        )
        return parsed
    path = f"$.{kind}"
    parsed.guard(
        path,
        update[kind],
        lambda: _message(update[kind], kind, path, update_id, context, bot, parsed),
    )
    return parsed


def _message(
    raw: object, kind: str, path: str, update_id: int, context: Context, bot: str, parsed: Parsed
) -> None:
    message = obj(raw, path)
    service = next((key for key in SERVICE if key in message), None)
    if service is not None:
        parsed.skipped.append(f"service.{service}")  # a chat event, not something a customer wrote
        return
    chat = obj(message.get("chat"), f"{path}.chat")
    chat_id = ident(chat, "id", f"{path}.chat")
    private = chat.get("type") == "private"
    reply = message.get("reply_to_message")
    canonical_message = canonical(
        path,
        platform=Platform.TELEGRAM,
        channel_kind=ChannelKind.DIRECT_MESSAGE if private else ChannelKind.PUBLIC_COMMENT,
        source=context.source,
        account_id=bot,
        conversation_id=chat_id,
        platform_message_id=f"{chat_id}:{ident(message, 'message_id', path)}",
        author=_author(message, chat, path),
        text=text(message, "text", path)
        or text(message, "caption", path)
        or _readable(message, path),
        language_hint=_language(message, path),
        created_at=unix_time(message, "date", path),
        in_reply_to=f"{chat_id}:{ident(obj(reply, f'{path}.reply_to_message'), 'message_id', f'{path}.reply_to_message')}"
        if reply is not None
        else None,
        attachments=_attachments(message, path),
        action=KINDS[kind],
        raw_ref=context.raw_ref,
    )
    parsed.items.append(Item(canonical_message, f"telegram:{bot}:update:{update_id}"))


def _readable(message: dict, path: str) -> str:
    """Text for what a customer can send without writing: a location, venue, contact, poll, dice."""
    if isinstance(message.get("venue"), dict):
        venue = message["venue"]
        return f"[location] {text(venue, 'title', f'{path}.venue') or ''}, {text(venue, 'address', f'{path}.venue') or ''}"
    if isinstance(message.get("location"), dict):
        where = message["location"]
        return f"[location] ({where.get('latitude')}, {where.get('longitude')})"
    if isinstance(message.get("contact"), dict):
        card = message["contact"]
        names = [text(card, key, f"{path}.contact") for key in ("first_name", "last_name")]
        return f"[contact] {' '.join(n for n in names if n)}: {text(card, 'phone_number', f'{path}.contact') or ''}"
    if isinstance(message.get("poll"), dict):
        poll = message["poll"]
        options = [
            o.get("text") for o in arr(poll, "options", f"{path}.poll") if isinstance(o, dict)
        ]
        return f"[poll] {text(poll, 'question', f'{path}.poll') or ''} " + " / ".join(
            str(o) for o in options if o
        )
    if isinstance(message.get("dice"), dict):
        return (
            f"[dice] {message['dice'].get('emoji', '')} {message['dice'].get('value', '')}".strip()
        )
    return ""


def _author(message: dict, chat: dict, path: str) -> Author:
    sender = message.get("from")
    if sender is None:  # channel posts are signed by the channel itself
        source = obj(message.get("sender_chat", chat), f"{path}.sender_chat")
        return Author(
            id=ident(source, "id", f"{path}.sender_chat"),
            handle=text(source, "username", f"{path}.sender_chat"),
            display_name=text(source, "title", f"{path}.sender_chat"),
        )
    sender = obj(sender, f"{path}.from")
    names = [text(sender, "first_name", f"{path}.from"), text(sender, "last_name", f"{path}.from")]
    return Author(
        id=ident(sender, "id", f"{path}.from"),
        handle=text(sender, "username", f"{path}.from"),
        display_name=" ".join(name for name in names if name) or None,
    )


def _language(message: dict, path: str) -> str | None:
    sender = message.get("from")
    code = text(sender, "language_code", f"{path}.from") if isinstance(sender, dict) else None
    return (
        code[:16] if code else None
    )  # the user's app language: a hint, not the message's language


def _attachments(message: dict, path: str) -> tuple[Attachment, ...]:
    found = []
    photos = arr(message, "photo", path)
    if photos:  # sizes of one photo, smallest first: keep the largest
        largest = obj(photos[-1], f"{path}.photo[{len(photos) - 1}]")
        found.append(
            Attachment(
                type="image", mime="image/jpeg", id=ident(largest, "file_id", f"{path}.photo")
            )
        )
    for key, kind in _MEDIA.items():
        if key in message:
            media = obj(message[key], f"{path}.{key}")
            found.append(
                Attachment(
                    type=kind,
                    mime=text(media, "mime_type", f"{path}.{key}"),
                    id=ident(media, "file_id", f"{path}.{key}"),
                )
            )
    return tuple(found)


class TelegramBot(SignedJsonBatch):
    """The ``PlatformAdapter`` of one bot: ``X-Telegram-Bot-Api-Secret-Token`` equals one of its
    ``secret_token``s; the correlation id is ``telegram:<bot>:<update_id>``."""

    def __init__(self, bot: str, secret_tokens: Sequence[bytes]) -> None:
        self.bot, self.source, self._tokens = bot, source_name(bot), secret_tokens

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        check_token(headers.get("x-telegram-bot-api-secret-token"), self._tokens)
        return ""

    def parse(self, document: object, context: Context) -> Parsed:
        return parse(document, context, self.bot)

    def correlation_id(self, document: object, raw: RawBody) -> str:
        if isinstance(document, dict):
            return f"telegram:{self.bot}:{document.get('update_id')}"[:128]
        return self.source
