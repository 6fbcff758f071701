"""Chatwoot (https://www.chatwoot.com) account webhooks.

Chatwoot POSTs one JSON object per event, named in ``event`` (its "Webhook Events"
documentation and ``app/listeners/webhook_listener.rb``): ``message_created`` /
``message_updated`` carry the message at the top (``message_type`` ``incoming``/``outgoing``,
``private``, ``content``, ``created_at``, ``sender`` with ``type`` ``user`` for an agent) and
its ``conversation``; ``conversation_status_changed`` / ``conversation_updated`` carry the
conversation at the top (``id``, ``status``, ``labels``, ``custom_attributes``, ``meta.assignee``)
and ``changed_attributes`` (``[{"<attr>": {"previous_value", "current_value"}}]``). A CSAT answer
is a ``message_updated`` of the ``input_csat`` message with
``content_attributes.submitted_values.csat_survey_response.rating`` (1–5).

Recent Chatwoot releases sign a webhook that has a secret: ``X-Chatwoot-Signature:
sha256=<hex HMAC-SHA256(secret, "<X-Chatwoot-Timestamp>.<raw body>")>`` with
``X-Chatwoot-Timestamp`` in Unix seconds and ``X-Chatwoot-Delivery`` an id per delivery. Older
releases do not sign: give those a URL token (the weaker option, docs/helpdesks.md).

Mapping: an agent's public outgoing message -> replied, a private one -> note; a CSAT rating ->
satisfaction; a status through ``statuses`` (``resolved`` -> resolved, ``open`` -> reopened);
an assignee change -> assigned; a label change -> re-tag and the corrections.
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
from shared.signatures import (
    SignatureRejected,
    check_hmac,
    fresh,
    hmac_sha256,
    raw,
    unix_timestamp,
)

MESSAGE_EVENTS = ("message_created", "message_updated")
CONVERSATION_EVENTS = ("conversation_status_changed", "conversation_updated")


def verify(
    headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], now: float, tolerance_s: int
) -> None:
    stamp = headers.get("x-chatwoot-timestamp")
    if not stamp:
        raise SignatureRejected("missing_signature_headers", "missing header: X-Chatwoot-Timestamp")
    fresh(unix_timestamp(stamp, "X-Chatwoot-Timestamp"), "X-Chatwoot-Timestamp", tolerance_s, now)
    check_hmac(
        ("sha256=", hmac_sha256, "hex"),
        headers.get("x-chatwoot-signature"),
        keys,
        raw(stamp) + b"." + body,
    )


def delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    return headers.get("x-chatwoot-delivery") or None


def read(payload: Any, config: HelpdeskConfig, now: datetime) -> Reading:
    body = obj(payload, "(body)")
    event = text(body.get("event"), "event")
    if event in MESSAGE_EVENTS:
        conversation = obj(body.get("conversation"), "conversation")
        return Reading(
            _item(conversation, "conversation", config), _message(body, event, config, now)
        )
    if event in CONVERSATION_EVENTS:
        return Reading(_item(body, "(body)", config), _conversation(body, event, config, now))
    if event is None:
        raise PayloadInvalid("event: missing")
    return Reading(None, [], f"event {event} is not tracked")


def _item(conversation: dict, path: str, config: HelpdeskConfig) -> str:
    where = config.where
    if where.source == "tag":
        found = item_in_tags(strings(conversation.get("labels"), f"{path}.labels"), config)
    else:
        attributes = opt_obj(conversation.get("custom_attributes"), f"{path}.custom_attributes")
        found = text(attributes.get(where.name or ""), f"{path}.custom_attributes.{where.name}")
    if found is None:
        raise NoItemId(f"the conversation has no Switchboard item id ({_where(config)})")
    return found


def _message(body: dict, event: str, config: HelpdeskConfig, now: datetime) -> list[Change]:
    key = f"message:{text(body.get('id'), 'id')}"
    at = when(body.get("created_at"), "created_at", now)
    sender = opt_obj(body.get("sender"), "sender")
    by = agent(text(sender.get("email") or sender.get("name"), "sender.email"), config)
    if event == "message_updated":
        return _csat(body, key, now)
    if body.get("message_type") != "outgoing" or sender.get("type") != "user":
        return []  # the customer, a bot or an automation: not an agent's work
    if body.get("private") is True:
        note = (text(body.get("content"), "content") or "")[:10_000]
        return [Change(f"{key}:note", LifecycleAction.NOTE, at, by, note=note)]
    return [Change(f"{key}:replied", LifecycleAction.REPLIED, at, by)]


def _csat(body: dict, key: str, now: datetime) -> list[Change]:
    if body.get("content_type") != "input_csat":
        return []
    attributes = opt_obj(body.get("content_attributes"), "content_attributes")
    submitted = opt_obj(attributes.get("submitted_values"), "content_attributes.submitted_values")
    response = opt_obj(
        submitted.get("csat_survey_response"), "…submitted_values.csat_survey_response"
    )
    rating = response.get("rating")
    if rating is None:
        return []
    if isinstance(rating, bool) or not isinstance(rating, int | float) or not 0 <= rating <= 5:
        raise PayloadInvalid("…csat_survey_response.rating: expected a number from 1 to 5")
    at = when(body.get("updated_at"), "updated_at", now)
    return [
        Change(f"{key}:satisfaction", LifecycleAction.SATISFACTION, at, satisfaction=float(rating))
    ]


def _conversation(body: dict, event: str, config: HelpdeskConfig, now: datetime) -> list[Change]:
    at = when(body.get("timestamp"), "timestamp", now)
    key = None  # a conversation's status, assignee, labels: identified by the delivery
    if event == "conversation_status_changed":
        return status_change(key, text(body.get("status"), "status"), at, None, config)
    changed = _changed(body.get("changed_attributes"))
    changes: list[Change] = []
    if "assignee_id" in changed:
        meta = opt_obj(body.get("meta"), "meta")
        assignee = opt_obj(meta.get("assignee"), "meta.assignee")
        user = text(assignee.get("email") or assignee.get("name"), "meta.assignee.email")
        if user:
            changes.append(Change(None, LifecycleAction.ASSIGNED, at, agent(user, config)))
    if changed & {"label_list", "cached_label_list", "labels"}:
        changes += tag_changes(key, strings(body.get("labels"), "labels"), at, None, config)
    return changes


def _changed(value: Any) -> set[str]:
    """The attribute names of ``changed_attributes`` (a list of one-key objects)."""
    if value is None:
        return set()
    if not isinstance(value, list):
        raise PayloadInvalid("changed_attributes: expected a list")
    return {name for entry in value if isinstance(entry, dict) for name in entry}


def _where(config: HelpdeskConfig) -> str:
    where = config.where
    if where.source == "tag":
        return f"label {where.prefix}<id>"
    return f"custom_attributes.{where.name}"
