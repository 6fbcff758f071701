"""The Standard Webhooks payload the ingestor accepts, and its normalisation.

A request body is UTF-8 JSON (``Content-Type: application/json``) shaped like::

    {"type": "message.created",
     "timestamp": "2026-01-02T10:00:00Z",
     "data": {"platform": "generic", "channel_kind": "direct_message", "account_id": "acme",
              "conversation_id": "c-1", "message_id": "m-1",
              "author": {"id": "u-1", "handle": "ann", "display_name": "Ann", "follower_count": 12},
              "text": "My order never arrived", "language": "en",
              "created_at": "2026-01-02T09:59:58Z", "in_reply_to": null, "permalink": null,
              "attachments": [{"type": "image", "url": "https://cdn.example/1.jpg", "mime": "image/jpeg"}],
              "action": "created"}}

Only ``message.created`` is handled: its ``data`` becomes a ``CanonicalMessage``. Any other
``type`` (a ping, ``message.delivered``, …, with whatever ``data``, or none) is answered 202
``{"status": "ignored"}`` and not processed (the caller dead-letters it for the record). Unknown fields are
ignored so senders can add fields; limits mirror ``CanonicalMessage``. ``action`` (``created``,
``edited``, ``deleted``; default ``created``) reports an edit or a removal of an earlier message:
each distinct edited text and the removal are delivered once each. Identifiers may not
contain control characters (they end up in Kafka keys and the dedup table).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events import (
    Attachment,
    Author,
    CanonicalMessage,
    ChannelKind,
    MessageAction,
    Platform,
)

MESSAGE_CREATED = "message.created"
_ID = r"^[^\x00-\x1f\x7f]+$"


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class InboundAuthor(_Inbound):
    id: str = Field(min_length=1, max_length=256, pattern=_ID)
    handle: str | None = Field(default=None, max_length=256)
    display_name: str | None = Field(default=None, max_length=512)
    follower_count: int | None = Field(default=None, ge=0, le=2**63 - 1)


class InboundAttachment(_Inbound):
    type: str = Field(min_length=1, max_length=64)
    url: str | None = Field(default=None, max_length=4096)
    mime: str | None = Field(default=None, max_length=255)
    id: str | None = Field(default=None, max_length=512)


class GenericMessage(_Inbound):
    """``data`` of a ``message.created`` event."""

    platform: Platform = Platform.GENERIC
    channel_kind: ChannelKind
    account_id: str = Field(
        min_length=1, max_length=256, pattern=_ID, description="Page/account addressed"
    )
    conversation_id: str = Field(min_length=1, max_length=512, pattern=_ID)
    message_id: str = Field(
        min_length=1, max_length=512, pattern=_ID, description="The platform's id"
    )
    author: InboundAuthor
    text: str = Field(max_length=100_000)
    language: str | None = Field(default=None, max_length=16, description="BCP 47 hint, if known")
    created_at: AwareDatetime
    in_reply_to: str | None = Field(default=None, max_length=512)
    permalink: str | None = Field(default=None, max_length=2048)
    attachments: list[InboundAttachment] = Field(default_factory=list, max_length=50)
    action: MessageAction = MessageAction.CREATED


class WebhookEnvelope(_Inbound):
    """Any Standard Webhooks event: ``data`` (and ``timestamp``) are only checked once ``type`` is
    known, so a ping or another event type with any ``data`` (or none) is acknowledged as ignored."""

    type: str = Field(min_length=1, max_length=256)
    timestamp: Any = None
    data: Any = None


class MessageCreated(_Inbound):
    """The one event type the ingestor handles (documentation of the request body)."""

    type: Literal["message.created"]
    timestamp: AwareDatetime | None = None
    data: GenericMessage


def to_canonical(
    message: GenericMessage, source: str, raw_ref: str | None = None
) -> CanonicalMessage:
    """Normalise a generic message received from ``source`` (raw body kept at ``raw_ref``).
    Raises ``ValidationError``."""
    author = message.author
    return CanonicalMessage(
        platform=message.platform,
        channel_kind=message.channel_kind,
        source=source,
        account_id=message.account_id,
        conversation_id=message.conversation_id,
        platform_message_id=message.message_id,
        author=Author(
            id=author.id,
            handle=author.handle,
            display_name=author.display_name,
            follower_count=author.follower_count,
        ),
        text=message.text,
        language_hint=message.language,
        created_at=message.created_at,
        in_reply_to=message.in_reply_to,
        permalink=message.permalink,
        attachments=tuple(Attachment(**a.model_dump()) for a in message.attachments),
        action=message.action,
        raw_ref=raw_ref,
    )
