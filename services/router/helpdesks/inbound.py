"""The inbound use case: a helpdesk's webhook -> verified -> read by its adapter -> checked
against the routed item -> ``switchboard.helpdesk.item.updated.v1`` events on the lifecycle
topic, answered only after the broker acknowledged them.

Refusals publish nothing and say why (``Refused``): 404 unknown helpdesk or item, 401 missing,
stale or wrong signature or token, 413 too large, 422 not JSON, not the helpdesk's shape, or no
Switchboard item id; 503 with ``Retry-After`` when the broker did not acknowledge.

Idempotent: an event id is ``derived_id("<helpdesk>:<key>", "router:helpdesk")`` where the key is
the helpdesk's own id of the change (an article, message or comment) or else the delivery id
(``X-Zammad-Delivery``, ``X-Chatwoot-Delivery``, the Zendesk event id, ``webhook-id``; a hash of
the body when there is none). Changes the router has already applied are not published again,
and neither are snapshots that change nothing (a state the item is already in, the same tags, a
correction already made), since Zammad and Chatwoot send the whole ticket on every update.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

import orjson

from services.router.helpdesks import chatwoot, standard, zammad, zendesk
from services.router.helpdesks.config import HelpdeskConfig
from services.router.helpdesks.mapping import Change, NoItemId, PayloadInvalid, Reading
from services.router.helpdesks.publisher import Publisher, Unavailable
from services.router.store import RESOLVED, RoutedItems
from services.router.tables import RoutedItem
from shared import topics
from shared.events import HelpdeskItemUpdated, Lifecycle, LifecycleAction, derived_id
from shared.signatures import SignatureRejected, check_token, secret_key

ADAPTERS: dict[str, ModuleType] = {
    "standard": standard,
    "zammad": zammad,
    "chatwoot": chatwoot,
    "zendesk": zendesk,
}
RETRY_AFTER_S = 5
SOURCE = "switchboard/router/helpdesks"
ONCE = (LifecycleAction.NOT_SPAM, LifecycleAction.NEEDED_REPLY)


class Refused(Exception):
    """A request refused with ``status``; ``error`` is a stable code, ``detail`` says why."""

    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status, self.error, self.detail, self.headers = status, error, detail, headers or {}


@dataclass
class Accepted:
    """What a delivery became: the events published, the ones already applied, what was skipped."""

    published: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: str | None = None


@dataclass(frozen=True)
class Helpdesk:
    """A configured helpdesk with its keys decoded once."""

    name: str
    config: HelpdeskConfig
    adapter: ModuleType
    keys: list[bytes]
    tokens: list[bytes]

    @classmethod
    def of(cls, name: str, config: HelpdeskConfig) -> Helpdesk:
        """Raises ``ValueError`` naming the helpdesk (never the secret) for an unusable secret."""
        secrets = [s.get_secret_value() for s in config.secrets]
        try:
            keys = [secret_key(s) if config.kind == "standard" else s.encode() for s in secrets]
        except ValueError as exc:
            raise ValueError(f"helpdesk {name!r}: {exc}") from None
        tokens = [t.get_secret_value().encode() for t in config.url_tokens]
        return cls(name, config, ADAPTERS[config.kind], keys, tokens)


class Inbound:
    def __init__(
        self,
        helpdesks: Mapping[str, HelpdeskConfig],
        items: RoutedItems,
        publisher: Publisher,
        clock: Callable[[], datetime],
    ) -> None:
        self.helpdesks = {name: Helpdesk.of(name, c) for name, c in helpdesks.items()}
        self.items, self.publisher, self.clock = items, publisher, clock

    def helpdesk(self, name: str) -> Helpdesk:
        found = self.helpdesks.get(name)
        if found is None:
            raise Refused(404, "unknown_helpdesk", f"no helpdesk {name!r} is configured")
        return found

    async def receive(
        self, name: str, headers: Mapping[str, str], body: bytes, token: str | None = None
    ) -> Accepted:
        """Verify, read and publish one delivery. Raises ``Refused``."""
        desk = self.helpdesk(name)
        now = self.clock()
        self._authenticate(desk, headers, body, token, now.timestamp())
        payload = _json(body)
        reading = _read(desk, payload, now)
        if not reading.changes:
            return Accepted(ignored=reading.ignored or "nothing to report")
        row = await self.items.by_id(reading.item_id or "")
        if row is None:
            raise Refused(404, "unknown_item", f"no routed item {reading.item_id}")
        delivery = desk.adapter.delivery_id(headers, payload) or hashlib.sha256(body).hexdigest()
        applied = await self.items.lifecycle_applied(row.event_id)
        outcome, events = Accepted(), []
        for n, change in enumerate(reading.changes):
            event = _event(desk.name, delivery, n, change, row)
            if event.id in applied:
                outcome.duplicates.append(event.id)
            elif (why := needless(change, row, set(applied.values()))) is not None:
                outcome.skipped.append(f"{change.action.value}: {why}")
            else:
                events.append(event)
        try:
            await self.publisher.publish(topics.LIFECYCLE, events)
        except Unavailable as exc:
            raise Refused(
                503, "broker_unavailable", str(exc), {"Retry-After": str(RETRY_AFTER_S)}
            ) from exc
        outcome.published = [e.id for e in events]
        return outcome

    def _authenticate(
        self, desk: Helpdesk, headers: Mapping[str, str], body: bytes, token: str | None, now: float
    ) -> None:
        try:
            if token is not None:
                if not desk.tokens:
                    raise SignatureRejected("bad_signature", "this helpdesk has no URL token")
                check_token(token, desk.tokens)
            elif not desk.keys:
                raise SignatureRejected(
                    "missing_signature", "this helpdesk posts to its URL-token address"
                )
            else:
                desk.adapter.verify(headers, body, desk.keys, now, desk.config.tolerance_s)
        except SignatureRejected as exc:
            raise Refused(401, exc.reason, exc.detail) from exc


def _json(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refused(422, "malformed_body", f"the body is not JSON: {exc}"[:300]) from exc


def _read(desk: Helpdesk, payload, now: datetime) -> Reading:
    try:
        return desk.adapter.read(payload, desk.config, now)
    except PayloadInvalid as exc:
        raise Refused(422, "invalid_payload", f"not a {desk.config.kind} webhook: {exc}") from exc
    except NoItemId as exc:
        raise Refused(422, "no_item_id", str(exc)) from exc


def _event(
    helpdesk: str, delivery: str, n: int, change: Change, row: RoutedItem
) -> HelpdeskItemUpdated:
    key = change.key or f"{delivery}#{n}:{change.action.value}"
    event_id = derived_id(f"{helpdesk}:{key}", "router:helpdesk")
    return HelpdeskItemUpdated(
        id=event_id,
        source=f"{SOURCE}/{helpdesk}",
        time=change.at,
        correlation_id=row.event_id,
        subject=row.conversation_key,
        data=Lifecycle(
            item_id=row.event_id,
            action=change.action,
            at=change.at,
            agent_id=change.agent_id,
            tags=change.tags,
            satisfaction=change.satisfaction,
            handling_seconds=change.handling_seconds,
            note=change.note,
        ),
    )


def needless(change: Change, row: RoutedItem, applied_actions: set[str]) -> str | None:
    """Why publishing ``change`` would change nothing for the item (``None``: it would)."""
    action, resolved = change.action, row.work_state == RESOLVED
    if action is LifecycleAction.RESOLVED and resolved:
        return "already resolved"
    if action is LifecycleAction.REOPENED and not resolved:
        return "not resolved"
    if action is LifecycleAction.ASSIGNED and row.assigned_at is not None:
        return f"already assigned to {row.agent_id}"
    if action is LifecycleAction.RETAGGED and set(change.tags) == set(row.tags or ()):
        return "same tags"
    if action in ONCE and action.value in applied_actions:
        return "already corrected"
    return None
