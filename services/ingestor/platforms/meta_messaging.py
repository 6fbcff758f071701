"""Meta's direct messages: Messenger and Instagram ``messaging[]`` events, and WhatsApp Cloud
``messages[]`` (pure; used by ``meta.parse``). A conversation is the customer's thread with the
page/account: its id is the customer's page-scoped id (or WhatsApp ``wa_id``).
"""

from __future__ import annotations

from services.ingestor.normalized import Context, Parsed, canonical
from services.ingestor.shapes import PayloadInvalid, arr, ident, obj, text, unix_time
from shared.events import Attachment, Author, ChannelKind, MessageAction, Platform

_IGNORED_MESSAGING = (
    "delivery",
    "read",
    "reaction",
    "postback",
    "optin",
    "referral",
    "account_linking",
    "policy_enforcement",
    "messaging_seen",
    "pass_thread_control",
    "take_thread_control",
)
_WHATSAPP_MEDIA = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "voice": "audio",
    "document": "file",
    "sticker": "sticker",
}
_WHATSAPP_SKIPPED = ("reaction", "unsupported", "system", "request_welcome")


def messaging(
    platform: Platform, account: str, event: dict, path: str, context: Context, parsed: Parsed
) -> None:
    """One Messenger/Instagram messaging event: a message, an edit, or something skipped."""
    if "message" in event:
        _message(platform, account, event, path, context, parsed)
    elif "message_edit" in event:
        _edit(platform, account, event, path, context, parsed)
    else:
        known = next((key for key in _IGNORED_MESSAGING if key in event), None)
        (parsed.skipped if known else parsed.unhandled).append(f"messaging.{known or 'unknown'}")


def _message(
    platform: Platform, account: str, event: dict, path: str, context: Context, parsed: Parsed
) -> None:
    message = obj(event["message"], f"{path}.message")
    if message.get("is_echo") is True:
        parsed.skipped.append("messaging.echo")  # our own page's outgoing message
        return
    sender = ident(obj(event.get("sender"), f"{path}.sender"), "id", f"{path}.sender")
    reply_to = message.get("reply_to")
    action = MessageAction.DELETED if message.get("is_deleted") is True else MessageAction.CREATED
    parsed.add(
        canonical(
            path,
            platform=platform,
            channel_kind=ChannelKind.DIRECT_MESSAGE,
            source=context.source,
            account_id=account,
            conversation_id=sender,
            platform_message_id=ident(message, "mid", f"{path}.message"),
            author=Author(id=sender),
            text=text(message, "text", f"{path}.message") or "",
            created_at=unix_time(event, "timestamp", path),
            action=action,
            raw_ref=context.raw_ref,
            in_reply_to=ident(
                obj(reply_to, f"{path}.message.reply_to"),
                "mid",
                f"{path}.message.reply_to",
                required=False,
            )
            if reply_to is not None
            else None,
            attachments=_messenger_media(message, f"{path}.message"),
        )
    )


def _edit(
    platform: Platform, account: str, event: dict, path: str, context: Context, parsed: Parsed
) -> None:
    edit = obj(event["message_edit"], f"{path}.message_edit")
    sender = ident(obj(event.get("sender"), f"{path}.sender"), "id", f"{path}.sender")
    parsed.add(
        canonical(
            path,
            platform=platform,
            channel_kind=ChannelKind.DIRECT_MESSAGE,
            source=context.source,
            account_id=account,
            conversation_id=sender,
            platform_message_id=ident(edit, "mid", f"{path}.message_edit"),
            author=Author(id=sender),
            text=text(edit, "text", f"{path}.message_edit") or "",
            created_at=unix_time(event, "timestamp", path),
            action=MessageAction.EDITED,
            raw_ref=context.raw_ref,
        ),
        edit_marker=str(edit.get("num_edit", event.get("timestamp"))),
    )


def _messenger_media(message: dict, path: str) -> tuple[Attachment, ...]:
    found = []
    for k, raw in enumerate(arr(message, "attachments", path)):
        item = obj(raw, f"{path}.attachments[{k}]")
        payload = item.get("payload")
        url = (
            text(payload, "url", f"{path}.attachments[{k}].payload")
            if isinstance(payload, dict)
            else None
        )
        found.append(
            Attachment(
                type=(text(item, "type", f"{path}.attachments[{k}]") or "file")[:64], url=url
            )
        )
    return tuple(found)


def whatsapp(value: dict, path: str, context: Context, parsed: Parsed) -> None:
    """A WhatsApp ``messages`` change: each message is an item (read on its own: a malformed one
    never costs the others); each status and error is skipped.

    Senders are named by phone number (``wa_id`` / ``from``) or, for users who hide it, by a
    business-scoped user id (``user_id`` / ``from_user_id``, also on statuses as
    ``recipient_user_id``); the conversation is the phone number when there is one, else the
    business-scoped id."""
    account = ident(
        obj(value.get("metadata"), f"{path}.metadata"), "phone_number_id", f"{path}.metadata"
    )
    names: dict[str, str | None] = {}
    for k, raw in enumerate(arr(value, "contacts", path)):
        if not isinstance(raw, dict):
            continue  # a contact card we cannot read only costs the display name
        profile = raw.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        for key in ("wa_id", "user_id"):
            if isinstance(raw.get(key), str | int) and not isinstance(raw.get(key), bool):
                names[str(raw[key])] = name if isinstance(name, str) else None
    parsed.skipped += ["whatsapp.status"] * len(arr(value, "statuses", path))
    parsed.skipped += ["whatsapp.error"] * len(arr(value, "errors", path))
    for k, raw in enumerate(arr(value, "messages", path)):
        where = f"{path}.messages[{k}]"
        parsed.guard(
            where,
            raw,
            lambda raw=raw, where=where: _whatsapp_message(
                account, names, obj(raw, where), where, context, parsed
            ),
        )


def _whatsapp_sender(message: dict, names: dict, path: str) -> Author:
    """The phone number (``from``) when present, else the business-scoped user id."""
    phone = ident(message, "from", path, required=False)
    scoped = ident(message, "from_user_id", path, required=False)
    sender = phone or scoped
    if sender is None:
        raise PayloadInvalid(f"{path}.from: required (or from_user_id)")
    name = names.get(sender) or (names.get(scoped) if scoped else None)
    return Author(id=sender, handle=phone, display_name=name)


def _whatsapp_message(
    account: str, names: dict, message: dict, path: str, context: Context, parsed: Parsed
) -> None:
    kind = text(message, "type", path) or "unknown"
    if kind in ("edit", "revoke"):
        _whatsapp_change(kind, account, names, message, path, context, parsed)
        return
    if kind in _WHATSAPP_SKIPPED:
        parsed.skipped.append(f"whatsapp.{kind}")
        return
    if kind not in _WHATSAPP_READABLE and kind not in _WHATSAPP_MEDIA:
        parsed.unhandled.append(f"whatsapp.message.{kind[:32]}")
        return
    author = _whatsapp_sender(message, names, path)
    body, attachments = _whatsapp_content(kind, message, path)
    context_ref = message.get("context")
    parsed.add(
        canonical(
            path,
            platform=Platform.WHATSAPP,
            channel_kind=ChannelKind.DIRECT_MESSAGE,
            source=context.source,
            account_id=account,
            conversation_id=author.id,
            platform_message_id=ident(message, "id", path),
            author=author,
            text=body,
            created_at=unix_time(message, "timestamp", path),
            attachments=attachments,
            raw_ref=context.raw_ref,
            in_reply_to=ident(
                obj(context_ref, f"{path}.context"), "id", f"{path}.context", required=False
            )
            if context_ref is not None
            else None,
        )
    )


def _whatsapp_change(
    kind: str, account: str, names: dict, message: dict, path: str, context: Context, parsed: Parsed
) -> None:
    """``edit`` (new content of ``edit.original_message_id``) and ``revoke`` (the user deleted
    ``revoke.original_message_id``): the original message's id, with the action. Each edit event
    has its own ``id``, which tells one edit from another in the dedup key."""
    author = _whatsapp_sender(message, names, path)
    change = obj(message.get(kind), f"{path}.{kind}")
    original = ident(change, "original_message_id", f"{path}.{kind}")
    body, attachments, action, reply = "", (), MessageAction.DELETED, None
    if kind == "edit":
        inner = obj(change.get("message"), f"{path}.edit.message")
        inner_kind = text(inner, "type", f"{path}.edit.message") or "unknown"
        if inner_kind not in _WHATSAPP_READABLE and inner_kind not in _WHATSAPP_MEDIA:
            parsed.unhandled.append(f"whatsapp.edit.{inner_kind[:32]}")
            return
        body, attachments = _whatsapp_content(inner_kind, inner, f"{path}.edit.message")
        context_ref = inner.get("context")
        reply = (
            ident(
                obj(context_ref, f"{path}.edit.message.context"),
                "id",
                f"{path}.edit.message.context",
                required=False,
            )
            if context_ref is not None
            else None
        )
        action = MessageAction.EDITED
    parsed.add(
        canonical(
            path,
            platform=Platform.WHATSAPP,
            channel_kind=ChannelKind.DIRECT_MESSAGE,
            source=context.source,
            account_id=account,
            conversation_id=author.id,
            platform_message_id=original,
            author=author,
            text=body,
            created_at=unix_time(message, "timestamp", path),
            attachments=attachments,
            action=action,
            in_reply_to=reply,
            raw_ref=context.raw_ref,
        ),
        edit_marker=ident(message, "id", path),
    )


def _whatsapp_content(kind: str, message: dict, path: str) -> tuple[str, tuple[Attachment, ...]]:
    """The message's content as readable text, plus a structured attachment for what is more
    than text (media, a location, contact cards, an order, the id of the button or list row)."""
    if kind in _WHATSAPP_READABLE:
        return _WHATSAPP_READABLE[kind](
            obj(message.get(kind), f"{path}.{kind}") if kind != "contacts" else message.get(kind),
            f"{path}.{kind}",
        )
    part = obj(message.get(kind), f"{path}.{kind}")
    media = Attachment(
        type=_WHATSAPP_MEDIA[kind],
        mime=text(part, "mime_type", f"{path}.{kind}"),
        id=ident(part, "id", f"{path}.{kind}", required=False),
    )
    return text(part, "caption", f"{path}.{kind}") or "", (media,)


def _text(part: dict, path: str) -> tuple[str, tuple[Attachment, ...]]:
    return text(part, "body", path) or "", ()


def _button(part: dict, path: str) -> tuple[str, tuple[Attachment, ...]]:
    """A quick-reply button of a template: ``{"text", "payload"}``."""
    payload = text(part, "payload", path)
    return text(part, "text", path) or payload or "", (
        Attachment(type="button_reply", id=payload[:512]),
    ) if payload else ()


def _interactive(part: dict, path: str) -> tuple[str, tuple[Attachment, ...]]:
    """``button_reply`` {id, title}, ``list_reply`` {id, title, description}, ``nfm_reply`` (a Flow:
    {name, body, response_json})."""
    kind = text(part, "type", path) or "unknown"
    reply = obj(part.get(kind), f"{path}.{kind}")
    if kind in ("button_reply", "list_reply"):
        title, description = (
            text(reply, "title", f"{path}.{kind}"),
            text(reply, "description", f"{path}.{kind}"),
        )
        body = " - ".join(t for t in (title, description) if t)
        return body, (
            Attachment(type=kind, id=ident(reply, "id", f"{path}.{kind}", required=False)),
        )
    if kind == "nfm_reply":
        answers = text(reply, "response_json", f"{path}.{kind}") or ""
        body = text(reply, "body", f"{path}.{kind}") or "Flow answered"
        return f"{body}\n{answers}".strip()[:100_000], (
            Attachment(type="flow_reply", id=text(reply, "name", path)),
        )
    raise PayloadInvalid(f"{path}.type: interactive reply {kind[:32]!r} is not known")


def _location(part: dict, path: str) -> tuple[str, tuple[Attachment, ...]]:
    latitude, longitude = part.get("latitude"), part.get("longitude")
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude)
    ):
        raise PayloadInvalid(f"{path}: latitude and longitude must be numbers")
    place = ", ".join(t for t in (text(part, "name", path), text(part, "address", path)) if t)
    body = f"[location] {place + ' ' if place else ''}({latitude}, {longitude})"
    url = (
        text(part, "url", path)
        or f"https://www.google.com/maps/search/?api=1&query={latitude},{longitude}"
    )
    return body, (Attachment(type="location", url=url[:4096]),)


def _contacts(cards: object, path: str) -> tuple[str, tuple[Attachment, ...]]:
    """Shared contact cards: each as ``[contact] Name: phone, email``."""
    if not isinstance(cards, list):
        raise PayloadInvalid(f"{path}: expected an array of contact cards")
    lines, found = [], []
    for k, raw in enumerate(cards[:50]):
        card = obj(raw, f"{path}[{k}]")
        name = card.get("name")
        label = (
            text(name, "formatted_name", f"{path}[{k}].name")
            or text(name, "first_name", f"{path}[{k}].name")
            if isinstance(name, dict)
            else None
        ) or "unnamed"
        reach = [
            text(obj(p, f"{path}[{k}].phones"), "phone", f"{path}[{k}].phones")
            for p in arr(card, "phones", path)
        ]
        reach += [
            text(obj(e, f"{path}[{k}].emails"), "email", f"{path}[{k}].emails")
            for e in arr(card, "emails", path)
        ]
        lines.append(
            f"[contact] {label}: {', '.join(r for r in reach if r) or 'no phone or email'}"
        )
        phones = [
            p.get("wa_id")
            for p in arr(card, "phones", path)
            if isinstance(p, dict) and p.get("wa_id")
        ]
        found.append(Attachment(type="contact", id=str(phones[0])[:512] if phones else None))
    return "\n".join(lines), tuple(found)


def _order(part: dict, path: str) -> tuple[str, tuple[Attachment, ...]]:
    """An order from a catalogue: the note, then ``[order] <quantity> x <product> (<price> <currency>)``."""
    items = []
    for k, raw in enumerate(arr(part, "product_items", path)):
        item = obj(raw, f"{path}.product_items[{k}]")
        product = (
            ident(item, "product_retailer_id", f"{path}.product_items[{k}]", required=False) or "?"
        )
        quantity, price, currency = (
            item.get("quantity", 1),
            item.get("item_price"),
            item.get("currency") or "",
        )
        items.append(
            f"{quantity} x {product}"
            + (f" ({price} {currency})".rstrip() if price is not None else "")
        )
    note = text(part, "text", path)
    body = "\n".join(line for line in (note, f"[order] {'; '.join(items) or 'no items'}") if line)
    return body, (Attachment(type="order", id=ident(part, "catalog_id", path, required=False)),)


_WHATSAPP_READABLE = {
    "text": _text,
    "button": _button,
    "interactive": _interactive,
    "location": _location,
    "contacts": _contacts,
    "order": _order,
}
