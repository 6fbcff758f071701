"""Zammad (https://zammad.org) trigger webhooks.

Zammad POSTs ``{"ticket": {...}, "article": {...}}`` when a trigger with a webhook action fires
(admin documentation "Webhook Payload": headers ``X-Zammad-Trigger`` (the trigger's name),
``X-Zammad-Delivery`` (a unique id, kept across Zammad's retries) and, when the webhook has an
"HMAC SHA1 Signature Token", ``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, raw body)>``; the
ticket carries its custom object attributes by name, ``state``, ``owner``; the article
``sender`` (``Agent``/``Customer``/``System``), ``internal``, ``body``, ``created_at`` and
``created_by``). Zammad signs no timestamp: replays are harmless because every change's event
id comes from the article or the delivery.

Mapping: an agent's public article -> replied, an internal one -> note; the ticket's state
through ``statuses`` (default ``closed`` -> resolved, ``open`` -> reopened); its owner ->
assigned; its tags -> re-tag and the corrections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.router.helpdesks.config import HelpdeskConfig
from services.router.helpdesks.mapping import (
    Change,
    NoItemId,
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
from shared.signatures import check_hmac, hmac_sha1

SIGNATURE = ("sha1=", hmac_sha1, "hex")
UNASSIGNED = "1"  # Zammad's system user ("-") owns unassigned tickets


def verify(
    headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], now: float, tolerance_s: int
) -> None:
    check_hmac(SIGNATURE, headers.get("x-hub-signature"), keys, body)


def delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    return headers.get("x-zammad-delivery") or None


def read(payload: Any, config: HelpdeskConfig, now: datetime) -> Reading:
    body = obj(payload, "(body)")
    ticket = obj(body.get("ticket"), "ticket")
    article = opt_obj(body.get("article"), "article")
    tags = strings(ticket.get("tags"), "ticket.tags")
    where = config.where
    if where.source == "tag":
        item_id = item_in_tags(tags, config)
    else:
        item_id = text(ticket.get(where.name or ""), f"ticket.{where.name}")
    if item_id is None:
        raise NoItemId(f"the ticket has no Switchboard item id ({_where(config)})")
    at = when(ticket.get("updated_at"), "ticket.updated_at", now)
    ticket_key = None  # the ticket's state, owner and tags: identified by the delivery
    changes = _article(article, config, now)
    changes += status_change(
        ticket_key, text(ticket.get("state"), "ticket.state"), at, None, config
    )
    owner = _user(ticket.get("owner"), "ticket.owner")
    if owner and text(ticket.get("owner_id"), "ticket.owner_id") != UNASSIGNED:
        changes.append(Change(None, LifecycleAction.ASSIGNED, at, agent(owner, config)))
    changes += tag_changes(ticket_key, tags, at, None, config)
    return Reading(item_id, changes, None if changes else "nothing Switchboard tracks changed")


def _article(article: dict, config: HelpdeskConfig, now: datetime) -> list[Change]:
    """An agent's article: public -> replied, internal -> note. Customers' and the system's
    articles change nothing here (a customer writing again reopens through the state)."""
    if not article or text(article.get("sender"), "article.sender") != "Agent":
        return []
    key = f"article:{text(article.get('id'), 'article.id')}"
    at = when(article.get("created_at"), "article.created_at", now)
    by = agent(_user(article.get("created_by"), "article.created_by"), config)
    if article.get("internal") is True:
        note = text(article.get("body"), "article.body") or ""
        return [Change(f"{key}:note", LifecycleAction.NOTE, at, by, note=note[:10_000])]
    return [Change(f"{key}:replied", LifecycleAction.REPLIED, at, by)]


def _user(value: Any, path: str) -> str | None:
    """A user as Zammad renders it: an object (``login``) in the default payload, or a string."""
    if isinstance(value, dict):
        return text(value.get("login") or value.get("email"), f"{path}.login")
    return text(value, path)


def _where(config: HelpdeskConfig) -> str:
    where = config.where
    return f"tag {where.prefix}<id>" if where.source == "tag" else f"ticket.{where.name}"
