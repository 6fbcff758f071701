"""Telegram Bot API updates normalised into canonical messages. Pure: ``parse(document, context, bot)``.

An update is ``{"update_id": n, "<kind>": {...}}`` with exactly one kind. ``message`` and
``channel_post`` are new messages, ``edited_message``/``edited_channel_post`` edits. The
dedup key is the ``update_id`` (Telegram re-sends an unanswered update with the same id);
other kinds (callback queries, member changes, …) are unhandled.
"""

from __future__ import annotations

from services.ingestor.normalized import Context, Item, Parsed, canonical
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

KINDS = {"message": MessageAction.CREATED, "edited_message": MessageAction.EDITED,
         "channel_post": MessageAction.CREATED, "edited_channel_post": MessageAction.EDITED}
_MEDIA = {"document": "file", "video": "video", "audio": "audio", "voice": "audio", "sticker": "sticker",
          "animation": "video", "video_note": "video"}


def parse(document: object, context: Context, bot: str) -> Parsed:
    """The one message of a Telegram update addressed to ``bot``. Raises ``PayloadInvalid``."""
    update, parsed = obj(document, "$"), Parsed()
    update_id = count(update, "update_id", "$")
    if update_id is None:
        raise PayloadInvalid("$.update_id: required")
    kind = next((key for key in KINDS if key in update), None)
    if kind is None:
        other = next((key for key in update if key != "update_id"), "empty")
        parsed.unhandled.append(f"update.{str(other)[:32]}")
        return parsed
    path = f"$.{kind}"
    message = obj(update[kind], path)
    chat = obj(message.get("chat"), f"{path}.chat")
    chat_id = ident(chat, "id", f"{path}.chat")
    private = chat.get("type") == "private"
    reply = message.get("reply_to_message")
    canonical_message = canonical(
        path, platform=Platform.TELEGRAM, channel_kind=ChannelKind.DIRECT_MESSAGE if private else ChannelKind.PUBLIC_COMMENT,
        source=context.source, account_id=bot, conversation_id=chat_id,
        platform_message_id=f"{chat_id}:{ident(message, 'message_id', path)}", author=_author(message, chat, path),
        text=text(message, "text", path) or text(message, "caption", path) or "",
        language_hint=_language(message, path), created_at=unix_time(message, "date", path),
        in_reply_to=f"{chat_id}:{ident(obj(reply, f'{path}.reply_to_message'), 'message_id', f'{path}.reply_to_message')}"
        if reply is not None else None,
        attachments=_attachments(message, path), action=KINDS[kind], raw_ref=context.raw_ref)
    parsed.items.append(Item(canonical_message, f"telegram:{bot}:update:{update_id}"))
    return parsed


def _author(message: dict, chat: dict, path: str) -> Author:
    sender = message.get("from")
    if sender is None:  # channel posts are signed by the channel itself
        source = obj(message.get("sender_chat", chat), f"{path}.sender_chat")
        return Author(id=ident(source, "id", f"{path}.sender_chat"), handle=text(source, "username", f"{path}.sender_chat"),
                      display_name=text(source, "title", f"{path}.sender_chat"))
    sender = obj(sender, f"{path}.from")
    names = [text(sender, "first_name", f"{path}.from"), text(sender, "last_name", f"{path}.from")]
    return Author(id=ident(sender, "id", f"{path}.from"), handle=text(sender, "username", f"{path}.from"),
                  display_name=" ".join(name for name in names if name) or None)


def _language(message: dict, path: str) -> str | None:
    sender = message.get("from")
    code = text(sender, "language_code", f"{path}.from") if isinstance(sender, dict) else None
    return code[:16] if code else None  # the user's app language: a hint, not the message's language


def _attachments(message: dict, path: str) -> tuple[Attachment, ...]:
    found = []
    photos = arr(message, "photo", path)
    if photos:  # sizes of one photo, smallest first: keep the largest
        largest = obj(photos[-1], f"{path}.photo[{len(photos) - 1}]")
        found.append(Attachment(type="image", mime="image/jpeg", id=ident(largest, "file_id", f"{path}.photo")))
    for key, kind in _MEDIA.items():
        if key in message:
            media = obj(message[key], f"{path}.{key}")
            found.append(Attachment(type=kind, mime=text(media, "mime_type", f"{path}.{key}"),
                                    id=ident(media, "file_id", f"{path}.{key}")))
    return tuple(found)
