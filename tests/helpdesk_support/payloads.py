"""Helpdesk webhook bodies shaped exactly like the real ones, and their signatures, for the
router's helpdesk endpoint. Written for these tests (not copied); where each shape is documented:

- Zammad: admin documentation "Webhook Payload" (manage/webhook/payload.rst: ``ticket`` and
  ``article`` objects, headers ``X-Zammad-Trigger``, ``X-Zammad-Delivery``, ``X-Hub-Signature``)
  and ``app/jobs/trigger_webhook_job.rb``.
- Chatwoot: "Webhook Events" (chatwoot/docs ``webhook-events.md``: ``message_created``,
  ``conversation_status_changed``) and ``app/listeners/webhook_listener.rb``
  (``changed_attributes``); CSAT: ``content_attributes.submitted_values.csat_survey_response``.
- Zendesk: "Webhook event types: Ticket events" and "Verifying webhook authenticity".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime

import orjson

ZAMMAD_TOKEN = "zammad-hmac-token-0123456789"
CHATWOOT_SECRET = "chatwoot-webhook-secret-0123456789"
ZENDESK_SECRET = "dGhpc19pc196ZW5kZXNrX3NpZ25pbmdfc2VjcmV0"


def _user(login: str, uid: int, roles: list[str]) -> dict:
    first, _, last = login.partition("@")[0].partition(".")
    return {
        "active": True,
        "created_at": "2026-11-01T08:00:00.000Z",
        "created_by": "-",
        "created_by_id": 1,
        "email": login,
        "firstname": first.title(),
        "id": uid,
        "lastname": last.title(),
        "login": login,
        "organization": "Example GmbH",
        "out_of_office": False,
        "role_ids": [2] if roles == ["Agent"] else [3],
        "roles": roles,
        "updated_at": "2026-11-01T08:00:00.000Z",
        "updated_by": "-",
        "updated_by_id": 1,
        "verified": False,
        "vip": False,
    }


def zammad(
    item_id: str | None,
    *,
    state: str = "open",
    article_sender: str | None = "Agent",
    internal: bool = False,
    article_id: int = 104,
    at: str = "2026-11-23T09:12:00.000Z",
    tags: list[str] | None = None,
    owner: str | None = "anna@example.com",
) -> dict:
    """A Zammad trigger webhook's default payload: the ticket with its custom object attribute
    ``switchboard_item_id`` and the article of the update (empty when the update had none)."""
    agent = _user(owner or "anna@example.com", 5, ["Agent"])
    customer = _user("emily.adams@example.net", 8, ["Customer"])
    ticket = {
        "article_count": 2,
        "article_ids": [103, article_id],
        "create_article_sender": "Customer",
        "create_article_type": "facebook feed post",
        "created_at": "2026-11-23T09:00:00.000Z",
        "created_by": customer,
        "customer": customer,
        "customer_id": 8,
        "group": {"active": True, "id": 3, "name": "Support DE"},
        "group_id": 3,
        "id": 81,
        "last_contact_at": at,
        "number": "10081",
        "owner": agent if owner else _user("-", 1, []),
        "owner_id": 5 if owner else 1,
        "priority": {"id": 2, "name": "2 normal"},
        "priority_id": 2,
        "state": state,
        "state_id": {"new": 1, "open": 2, "closed": 4}.get(state, 3),
        "title": "Ladegerät defekt",
        "updated_at": at,
        "updated_by": agent,
        "updated_by_id": 5,
        "switchboard_item_id": item_id,
    }
    if tags is not None:
        ticket["tags"] = tags
    article = {}
    if article_sender is not None:
        author = agent if article_sender == "Agent" else customer
        article = {
            "body": "Danke für Ihre Nachricht, wir tauschen das Ladegerät aus.",
            "content_type": "text/html",
            "created_at": at,
            "created_by": author,
            "created_by_id": author["id"],
            "from": f"{author['firstname']} <{author['email']}>",
            "id": article_id,
            "internal": internal,
            "sender": article_sender,
            "sender_id": 1 if article_sender == "Agent" else 2,
            "ticket_id": 81,
            "to": "Emily Adams",
            "type": "note" if internal else "facebook feed comment",
            "type_id": 10,
            "updated_at": at,
            "accounted_time": 0,
        }
    return {"ticket": ticket, "article": article}


def zammad_headers(body: bytes, token: str = ZAMMAD_TOKEN, delivery: str | None = None) -> dict:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Zammad User Agent",
        "X-Zammad-Trigger": "Switchboard: lifecycle",
        "X-Zammad-Delivery": delivery or uuid.uuid4().hex,
        "X-Hub-Signature": "sha1=" + hmac.new(token.encode(), body, hashlib.sha1).hexdigest(),
    }


def _conversation(
    item_id: str | None, status: str = "open", labels=(), timestamp=1795424000
) -> dict:
    return {
        "additional_attributes": {},
        "can_reply": True,
        "channel": "Channel::Api",
        "contact_inbox": {"id": 12, "contact_id": 14, "inbox_id": 1, "source_id": "c-14"},
        "custom_attributes": {} if item_id is None else {"switchboard_item_id": item_id},
        "id": 10,
        "inbox_id": 1,
        "labels": list(labels),
        "messages": [],
        "meta": {
            "sender": {"id": 14, "name": "emily", "type": "contact"},
            "assignee": {
                "id": 1,
                "name": "Anna",
                "available_name": "Anna",
                "email": "anna@example.com",
                "type": "user",
                "availability_status": "online",
            },
        },
        "status": status,
        "unread_count": 0,
        "agent_last_seen_at": timestamp,
        "contact_last_seen_at": 0,
        "timestamp": timestamp,
    }


def chatwoot_message(
    item_id: str | None,
    *,
    message_id: int = 118,
    outgoing: bool = True,
    private: bool = False,
    created_at: str = "2026-11-23T09:12:00.000Z",
) -> dict:
    sender = (
        {"id": 1, "name": "Anna", "email": "anna@example.com", "type": "user"}
        if outgoing
        else {"id": 14, "name": "emily", "avatar": "", "type": "contact"}
    )
    return {
        "id": message_id,
        "content": "Wir kümmern uns darum." if outgoing else "Hallo?",
        "created_at": created_at,
        "message_type": "outgoing" if outgoing else "incoming",
        "content_type": "text",
        "private": private,
        "content_attributes": {},
        "source_id": None,
        "sender": sender,
        "inbox": {"id": 1, "name": "Social"},
        "conversation": _conversation(item_id),
        "account": {"id": 1, "name": "Example GmbH"},
        "event": "message_created",
    }


def chatwoot_csat(item_id: str | None, rating, message_id: int = 130) -> dict:
    """The CSAT survey message after the customer answered it (``message_updated``)."""
    return {
        "id": message_id,
        "content": "Please rate the conversation",
        "created_at": "2026-11-23T10:00:00.000Z",
        "updated_at": "2026-11-23T10:05:00.000Z",
        "message_type": "template",
        "content_type": "input_csat",
        "private": False,
        "content_attributes": {
            "submitted_values": {
                "csat_survey_response": {"rating": rating, "feedback_message": "Schnell, danke"}
            }
        },
        "source_id": None,
        "sender": {"id": 1, "name": "Anna", "email": "anna@example.com", "type": "user"},
        "inbox": {"id": 1, "name": "Social"},
        "conversation": _conversation(item_id),
        "account": {"id": 1, "name": "Example GmbH"},
        "event": "message_updated",
    }


def chatwoot_status(item_id: str | None, status: str, timestamp: int = 1795424400) -> dict:
    body = _conversation(item_id, status=status, timestamp=timestamp)
    body.update(
        event="conversation_status_changed",
        changed_attributes=[{"status": {"previous_value": "open", "current_value": status}}],
    )
    return body


def chatwoot_labels(item_id: str | None, labels: list[str], previous: list[str] = ()) -> dict:
    body = _conversation(item_id, labels=labels, timestamp=1795424500)
    body.update(
        event="conversation_updated",
        changed_attributes=[
            {"label_list": {"previous_value": list(previous), "current_value": labels}}
        ],
    )
    return body


def chatwoot_headers(
    body: bytes, secret: str = CHATWOOT_SECRET, timestamp: int | None = None, delivery=None
) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Chatwoot-Signature": f"sha256={digest}",
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Delivery": delivery or str(uuid.uuid4()),
    }


def zendesk(item_id: str | None, event_type: str, event: dict, tags=("vip",)) -> dict:
    return {
        "account_id": 22129848,
        "detail": {
            "actor_id": "8678530",
            "assignee_id": "469433",
            "brand_id": "1234",
            "created_at": "2026-11-23T09:00:00Z",
            "custom_status": "8447388090494",
            "description": "Ladegerät defekt",
            "external_id": item_id,
            "form_id": "8646151517822",
            "group_id": "8447320466430",
            "id": "35436",
            "is_public": True,
            "organization_id": "8447346621054",
            "priority": "LOW",
            "requester_id": "8678530",
            "status": "OPEN",
            "subject": "Ladegerät defekt",
            "submitter_id": "8678530",
            "tags": list(tags),
            "type": "QUESTION",
            "updated_at": "2026-11-23T09:12:00Z",
            "via": {"channel": "web_service"},
        },
        "event": event,
        "id": str(uuid.uuid4()),
        "subject": "zen:ticket:35436",
        "time": "2026-11-23T09:12:00.000000Z",
        "type": f"zen:event-type:ticket.{event_type}",
        "zendesk_event_version": "2022-11-06",
    }


def zendesk_headers(body: bytes, secret: str = ZENDESK_SECRET, at: datetime | None = None) -> dict:
    stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "Zendesk Webhook",
        "x-zendesk-account-id": "22129848",
        "x-zendesk-webhook-id": "01F1KRFQ6BG29CNWFR60NK5FNY",
        "x-zendesk-webhook-invocation-id": "8350205582",
        "x-zendesk-webhook-signature": base64.b64encode(digest).decode(),
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def dumps(payload: dict) -> bytes:
    return orjson.dumps(payload)
