"""Meta's direct messages: Messenger and Instagram ``messaging[]`` events, and WhatsApp Cloud
``messages[]`` (pure; used by ``meta.parse``). A conversation is the customer's thread with the
page/account: its id is the customer's page-scoped id (or WhatsApp ``wa_id``).
"""

from __future__ import annotations

from services.ingestor.normalized import Context, Parsed, canonical
from services.ingestor.shapes import arr, ident, obj, text, unix_time
from shared.events import Attachment, Author, ChannelKind, MessageAction, Platform

_IGNORED_MESSAGING = ("delivery", "read", "reaction", "postback", "optin", "referral", "account_linking",
                      "policy_enforcement", "messaging_seen", "pass_thread_control", "take_thread_control")
_WHATSAPP_MEDIA = {"image": "image", "video": "video", "audio": "audio", "voice": "audio",
                   "document": "file", "sticker": "sticker"}
_WHATSAPP_SKIPPED = ("reaction", "unsupported", "system", "request_welcome")


def messaging(platform: Platform, account: str, event: dict, path: str, context: Context, parsed: Parsed) -> None:
    """One Messenger/Instagram messaging event: a message, an edit, or something skipped."""
    if "message" in event:
        _message(platform, account, event, path, context, parsed)
    elif "message_edit" in event:
        _edit(platform, account, event, path, context, parsed)
    else:
        known = next((key for key in _IGNORED_MESSAGING if key in event), None)
        (parsed.skipped if known else parsed.unhandled).append(f"messaging.{known or 'unknown'}")


def _message(platform: Platform, account: str, event: dict, path: str, context: Context, parsed: Parsed) -> None:
    message = obj(event["message"], f"{path}.message")
    if message.get("is_echo") is True:
        parsed.skipped.append("messaging.echo")  # our own page's outgoing message
        return
    sender = ident(obj(event.get("sender"), f"{path}.sender"), "id", f"{path}.sender")
    reply_to = message.get("reply_to")
    action = MessageAction.DELETED if message.get("is_deleted") is True else MessageAction.CREATED
    parsed.add(canonical(
        path, platform=platform, channel_kind=ChannelKind.DIRECT_MESSAGE, source=context.source,
        account_id=account, conversation_id=sender, platform_message_id=ident(message, "mid", f"{path}.message"),
        author=Author(id=sender), text=text(message, "text", f"{path}.message") or "",
        created_at=unix_time(event, "timestamp", path), action=action, raw_ref=context.raw_ref,
        in_reply_to=ident(obj(reply_to, f"{path}.message.reply_to"), "mid", f"{path}.message.reply_to", required=False)
        if reply_to is not None else None,
        attachments=_messenger_media(message, f"{path}.message")))


def _edit(platform: Platform, account: str, event: dict, path: str, context: Context, parsed: Parsed) -> None:
    edit = obj(event["message_edit"], f"{path}.message_edit")
    sender = ident(obj(event.get("sender"), f"{path}.sender"), "id", f"{path}.sender")
    parsed.add(canonical(
        path, platform=platform, channel_kind=ChannelKind.DIRECT_MESSAGE, source=context.source,
        account_id=account, conversation_id=sender, platform_message_id=ident(edit, "mid", f"{path}.message_edit"),
        author=Author(id=sender), text=text(edit, "text", f"{path}.message_edit") or "",
        created_at=unix_time(event, "timestamp", path), action=MessageAction.EDITED, raw_ref=context.raw_ref),
        edit_marker=str(edit.get("num_edit", event.get("timestamp"))))


def _messenger_media(message: dict, path: str) -> tuple[Attachment, ...]:
    found = []
    for k, raw in enumerate(arr(message, "attachments", path)):
        item = obj(raw, f"{path}.attachments[{k}]")
        payload = item.get("payload")
        url = text(payload, "url", f"{path}.attachments[{k}].payload") if isinstance(payload, dict) else None
        found.append(Attachment(type=(text(item, "type", f"{path}.attachments[{k}]") or "file")[:64], url=url))
    return tuple(found)


def whatsapp(value: dict, path: str, context: Context, parsed: Parsed) -> None:
    """A WhatsApp ``messages`` change: each message is an item; each status is skipped."""
    account = ident(obj(value.get("metadata"), f"{path}.metadata"), "phone_number_id", f"{path}.metadata")
    names = {}
    for k, raw in enumerate(arr(value, "contacts", path)):
        contact = obj(raw, f"{path}.contacts[{k}]")
        profile = contact.get("profile")
        names[ident(contact, "wa_id", f"{path}.contacts[{k}]")] = \
            text(profile, "name", f"{path}.contacts[{k}].profile") if isinstance(profile, dict) else None
    parsed.skipped += ["whatsapp.status"] * len(arr(value, "statuses", path))
    parsed.skipped += ["whatsapp.error"] * len(arr(value, "errors", path))
    for k, raw in enumerate(arr(value, "messages", path)):
        _whatsapp_message(account, names, obj(raw, f"{path}.messages[{k}]"), f"{path}.messages[{k}]", context, parsed)


def _whatsapp_message(account: str, names: dict, message: dict, path: str, context: Context, parsed: Parsed) -> None:
    kind = text(message, "type", path) or "unknown"
    if kind in ("edit", "revoke"):
        _whatsapp_change(kind, account, names, message, path, context, parsed)
        return
    if kind in _WHATSAPP_SKIPPED:
        parsed.skipped.append(f"whatsapp.{kind}")
        return
    if kind != "text" and kind != "button" and kind not in _WHATSAPP_MEDIA:
        parsed.unhandled.append(f"whatsapp.message.{kind[:32]}")
        return
    sender = ident(message, "from", path)
    body, attachments = _whatsapp_content(kind, message, path)
    context_ref = message.get("context")
    parsed.add(canonical(
        path, platform=Platform.WHATSAPP, channel_kind=ChannelKind.DIRECT_MESSAGE, source=context.source,
        account_id=account, conversation_id=sender, platform_message_id=ident(message, "id", path),
        author=Author(id=sender, handle=sender, display_name=names.get(sender)), text=body,
        created_at=unix_time(message, "timestamp", path), attachments=attachments, raw_ref=context.raw_ref,
        in_reply_to=ident(obj(context_ref, f"{path}.context"), "id", f"{path}.context", required=False)
        if context_ref is not None else None))


def _whatsapp_change(kind: str, account: str, names: dict, message: dict, path: str, context: Context,
                     parsed: Parsed) -> None:
    """``edit`` (new content of ``edit.original_message_id``) and ``revoke`` (the user deleted
    ``revoke.original_message_id``): the original message's id, with the action. Each edit event
    has its own ``id``, which tells one edit from another in the dedup key."""
    sender = ident(message, "from", path)
    change = obj(message.get(kind), f"{path}.{kind}")
    original = ident(change, "original_message_id", f"{path}.{kind}")
    body, attachments, action, reply = "", (), MessageAction.DELETED, None
    if kind == "edit":
        inner = obj(change.get("message"), f"{path}.edit.message")
        inner_kind = text(inner, "type", f"{path}.edit.message") or "unknown"
        if inner_kind != "text" and inner_kind not in _WHATSAPP_MEDIA:
            parsed.unhandled.append(f"whatsapp.edit.{inner_kind[:32]}")
            return
        body, attachments = _whatsapp_content(inner_kind, inner, f"{path}.edit.message")
        context_ref = inner.get("context")
        reply = ident(obj(context_ref, f"{path}.edit.message.context"), "id", f"{path}.edit.message.context",
                      required=False) if context_ref is not None else None
        action = MessageAction.EDITED
    parsed.add(canonical(
        path, platform=Platform.WHATSAPP, channel_kind=ChannelKind.DIRECT_MESSAGE, source=context.source,
        account_id=account, conversation_id=sender, platform_message_id=original,
        author=Author(id=sender, handle=sender, display_name=names.get(sender)), text=body,
        created_at=unix_time(message, "timestamp", path), attachments=attachments, action=action,
        in_reply_to=reply, raw_ref=context.raw_ref), edit_marker=ident(message, "id", path))


def _whatsapp_content(kind: str, message: dict, path: str) -> tuple[str, tuple[Attachment, ...]]:
    part = obj(message.get(kind), f"{path}.{kind}")
    if kind == "text":
        return text(part, "body", f"{path}.text") or "", ()
    if kind == "button":
        return text(part, "text", f"{path}.button") or "", ()
    media = Attachment(type=_WHATSAPP_MEDIA[kind], mime=text(part, "mime_type", f"{path}.{kind}"),
                       id=ident(part, "id", f"{path}.{kind}", required=False))
    return text(part, "caption", f"{path}.{kind}") or "", (media,)
