"""Zendesk (https://developer.zendesk.com/documentation/webhooks/) webhooks subscribed to ticket
events.

Zendesk signs every request: ``X-Zendesk-Webhook-Signature: <base64 HMAC-SHA256(signing
secret, timestamp + raw body)>`` with ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601, e.g.
``2021-03-25T05:09:27Z``) — "Verifying webhook authenticity". A ticket event ("Webhook event
types: Ticket events") is ``{"type": "zen:event-type:ticket.<event>", "id": <event id>, "time",
"subject": "zen:ticket:<id>", "detail": {ticket: id, status, external_id, tags, assignee_id, …},
"event": {…}}``: ``status_changed`` (``current``/``previous``), ``comment_added``
(``comment``: ``id``, ``body``, ``is_public``, ``author`` with ``id`` and ``is_staff``),
``agent_assignment_changed`` (``current``), ``tags_changed`` (``tags_added``/``tags_removed``;
the ticket's tags in ``detail.tags``).

Mapping: a staff member's public comment -> replied, a private one -> note; a status through
``statuses`` (``solved``/``closed`` -> resolved, ``open`` -> reopened); an agent assignment ->
assigned; a tag change -> re-tag and the corrections. The item id travels in the ticket's
external id by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.router.helpdesks.config import HelpdeskConfig
from services.router.helpdesks.mapping import (
    Change,
    NoItemId,
    PayloadInvalid,
    Reading,
    agent,
    item_in_tags,
    obj,
    opt_obj,
    status_change,
    strings,
    tag_changes,
    text,
    when,
)
from shared.events import LifecycleAction
from shared.signatures import SignatureRejected, check_hmac, fresh, hmac_sha256, raw

PREFIX = "zen:event-type:ticket."


def verify(
    headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], now: float, tolerance_s: int
) -> None:
    stamp = headers.get("x-zendesk-webhook-signature-timestamp")
    if not stamp:
        raise SignatureRejected(
            "missing_signature_headers", "missing header: X-Zendesk-Webhook-Signature-Timestamp"
        )
    try:
        signed_at = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise SignatureRejected(
            "invalid_timestamp", "X-Zendesk-Webhook-Signature-Timestamp must be ISO 8601"
        ) from None
    fresh(signed_at, "X-Zendesk-Webhook-Signature-Timestamp", tolerance_s, now)
    header = headers.get("x-zendesk-webhook-signature")
    check_hmac(("", hmac_sha256, "base64"), header, keys, raw(stamp) + body)


def delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("id"), str):
        return payload["id"]  # the event's id: the same on every retry
    return headers.get("x-zendesk-webhook-invocation-id") or None


def read(payload: Any, config: HelpdeskConfig, now: datetime) -> Reading:
    body = obj(payload, "(body)")
    kind = text(body.get("type"), "type")
    if kind is None:
        raise PayloadInvalid("type: missing")
    if not kind.startswith(PREFIX):
        return Reading(None, [], f"event {kind} is not tracked")
    detail = obj(body.get("detail"), "detail")
    event = opt_obj(body.get("event"), "event")
    item_id = _item(detail, config)
    at = when(body.get("time"), "time", now)
    key = f"event:{text(body.get('id'), 'id')}"
    name = kind[len(PREFIX) :]
    if name == "status_changed":
        changes = status_change(key, text(event.get("current"), "event.current"), at, None, config)
    elif name == "comment_added":
        changes = _comment(opt_obj(event.get("comment"), "event.comment"), at, config)
    elif name == "agent_assignment_changed":
        user = text(event.get("current"), "event.current")
        changes = (
            [Change(f"{key}:assigned", LifecycleAction.ASSIGNED, at, agent(user, config))]
            if user
            else []
        )
    elif name == "tags_changed":
        changes = tag_changes(key, strings(detail.get("tags"), "detail.tags"), at, None, config)
    else:
        return Reading(item_id, [], f"event {kind} is not tracked")
    return Reading(item_id, changes, None if changes else "nothing Switchboard tracks changed")


def _item(detail: dict, config: HelpdeskConfig) -> str:
    where = config.where
    if where.source == "tag":
        found = item_in_tags(strings(detail.get("tags"), "detail.tags"), config)
    else:
        found = text(detail.get("external_id"), "detail.external_id")
    if found is None:
        what = f"tag {where.prefix}<id>" if where.source == "tag" else "detail.external_id"
        raise NoItemId(f"the ticket has no Switchboard item id ({what})")
    return found


def _comment(comment: dict, at: datetime, config: HelpdeskConfig) -> list[Change]:
    author = opt_obj(comment.get("author"), "event.comment.author")
    if author.get("is_staff") is not True:
        return []  # the requester wrote: a status change reopens, if anything
    key = f"comment:{text(comment.get('id'), 'event.comment.id')}"
    by = agent(text(author.get("id"), "event.comment.author.id"), config)
    if comment.get("is_public") is False:
        note = (text(comment.get("body"), "event.comment.body") or "")[:10_000]
        return [Change(f"{key}:note", LifecycleAction.NOTE, at, by, note=note)]
    return [Change(f"{key}:replied", LifecycleAction.REPLIED, at, by)]
