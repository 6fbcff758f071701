"""What an adapter reads from a helpdesk's webhook (pure): the Switchboard item id and the
lifecycle changes it reports, each with a natural key (the article, message or comment id, or
the delivery) from which the event id is derived, so the same reply reported twice is one event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.router.helpdesks.config import HelpdeskConfig
from shared.events import LifecycleAction

STATUS_ACTIONS = {
    "replied": LifecycleAction.REPLIED,
    "resolved": LifecycleAction.RESOLVED,
    "reopened": LifecycleAction.REOPENED,
}


class PayloadInvalid(ValueError):
    """The body is JSON but not the shape this helpdesk sends; the message names the path."""


class NoItemId(ValueError):
    """The webhook names no Switchboard item (a ticket Switchboard did not create)."""


@dataclass(frozen=True)
class Change:
    """One lifecycle change. ``key`` identifies it within the helpdesk when the helpdesk names
    it (``article:104:replied``); ``None``: it is identified by the delivery it came in."""

    key: str | None
    action: LifecycleAction
    at: datetime
    agent_id: str | None = None
    tags: tuple[str, ...] = ()
    satisfaction: float | None = None
    note: str | None = None
    handling_seconds: float | None = None


@dataclass(frozen=True)
class Reading:
    """An adapter's answer: the item, the changes, and why there are none (``ignored``)."""

    item_id: str | None
    changes: list[Change] = field(default_factory=list)
    ignored: str | None = None


def obj(value: Any, path: str) -> dict:
    """``value`` when it is a JSON object. Raises ``PayloadInvalid`` naming ``path``."""
    if not isinstance(value, dict):
        raise PayloadInvalid(f"{path}: expected an object")
    return value


def opt_obj(value: Any, path: str) -> dict:
    """An optional object: ``{}`` for null or missing."""
    return {} if value is None else obj(value, path)


def text(value: Any, path: str) -> str | None:
    """A string, or a number as text (helpdesks send ids either way); ``None`` when missing."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadInvalid(f"{path}: expected a string")
    return str(value)


def when(value: Any, path: str, default: datetime) -> datetime:
    """An ISO 8601 time (``Z`` or offset; Chatwoot's ``2021-07-23 18:02:48 UTC`` too) or Unix
    seconds; ``default`` when missing. Raises ``PayloadInvalid``."""
    if value is None or value == "":
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise PayloadInvalid(f"{path}: expected a time")
    cleaned = value.strip().removesuffix(" UTC").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise PayloadInvalid(f"{path}: not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def strings(value: Any, path: str) -> list[str]:
    """A list of strings (tags, labels); a comma-separated string is split (Zammad custom
    payloads render ``#{ticket.tags}`` that way)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise PayloadInvalid(f"{path}: expected a list of strings")
    return value


def item_in_tags(tags: Iterable[str], config: HelpdeskConfig) -> str | None:
    prefix = config.where.prefix
    return next(
        (t[len(prefix) :] for t in tags if t.startswith(prefix) and len(t) > len(prefix)), None
    )


def agent(user: str | None, config: HelpdeskConfig) -> str | None:
    """The Switchboard agent a helpdesk user is (``agents``), else the user as the helpdesk names it."""
    if user is None:
        return None
    return config.agents.get(user, user)[:128]


def _keyed(key: str | None, what: str) -> str | None:
    return None if key is None else f"{key}:{what}"


def tag_changes(
    key: str | None, labels: Iterable[str], at: datetime, by: str | None, config: HelpdeskConfig
) -> list[Change]:
    """From a helpdesk's tags or labels: the Switchboard tags (``tag_map``, else the ones with the
    prefix, prefix removed) as a re-tag, and the correction marks ("not spam", "needed a reply").
    Tags that are neither say nothing (a helpdesk has many of its own)."""
    labels = list(labels)
    not_spam, needed_reply = config.marks
    item_tag = config.where.prefix if config.where.source == "tag" else None
    mine = []
    for label in labels:
        if label in (not_spam, needed_reply) or (item_tag and label.startswith(item_tag)):
            continue
        if label in config.tag_map:
            mine.append(config.tag_map[label])
        elif config.prefix and label.startswith(config.prefix) and len(label) > len(config.prefix):
            mine.append(label[len(config.prefix) :])
    changes = []
    if mine:
        tags = tuple(sorted(set(mine)))
        changes.append(Change(_keyed(key, "retagged"), LifecycleAction.RETAGGED, at, by, tags=tags))
    for mark, action in (
        (not_spam, LifecycleAction.NOT_SPAM),
        (needed_reply, LifecycleAction.NEEDED_REPLY),
    ):
        if mark in labels:
            changes.append(Change(_keyed(key, action.value), action, at, by))
    return changes


def status_change(
    key: str | None, status: str | None, at: datetime, by: str | None, config: HelpdeskConfig
) -> list[Change]:
    """What a helpdesk status means (``statuses``), as a change; nothing for other statuses."""
    action = config.status_actions.get((status or "").lower())
    return [] if action is None else [Change(_keyed(key, action), STATUS_ACTIONS[action], at, by)]
