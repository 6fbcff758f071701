"""Lifecycle events back from helpdesks update routed items, idempotently on the event id:
assigned (an agent took it there), replied (first and average response time, handling
time), resolved (frees the agent's capacity and re-offers waiting items), re-tagged (new
tags and contact reason, and a ``ClassificationCorrected`` event for the classifier through the
outbox), satisfaction (score), reopened (resolved → waiting again, re-offered), a note (kept in
the item's audit trail, and PII-masked in ``router_notes`` for the customer context of the
conversation's later items), and the corrections "not spam" / "needed a reply" (a
``ClassificationCorrected`` event as for a re-tag, the decision ``reply``). A repeated event id
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.router.dispatcher import Dispatcher
from services.router.outbox import SOURCE, Relay
from services.router.policy import Signals
from services.router.reports import fill_durations
from services.router.store import (
    ASSIGNED,
    RESOLVED,
    WAITING,
    Repository,
    aware,
    transaction,
    utc,
)
from services.router.tables import RoutedItem
from services.router.webhooks import WebhookBridge
from shared import topics
from shared.codec import PoisonMessage
from shared.db import is_unique_violation
from shared.events import (
    ClassificationCorrected,
    Correction,
    Decision,
    HelpdeskItemUpdated,
    Lifecycle,
    LifecycleAction,
    derived_id,
)
from shared.logging import get_logger
from shared.runner import Output, PerMessage, RecordMeta

log = get_logger(__name__)
# the actions that teach the classifier, and the origin their corrections carry
CORRECTING = {
    LifecycleAction.RETAGGED: "router-retag",
    LifecycleAction.NOT_SPAM: "helpdesk-not-spam",
    LifecycleAction.NEEDED_REPLY: "helpdesk-needed-reply",
}


class UnknownItem(LookupError):
    """The lifecycle event names an item the router never routed."""


@dataclass
class LifecycleStage(PerMessage):
    sessions: Callable
    dispatcher: Dispatcher
    bridge: WebhookBridge | None = None  # fed by the outbox relay now; kept for callers
    relay: Relay | None = None

    async def process(self, event: HelpdeskItemUpdated, meta: RecordMeta) -> list[Output]:
        """Apply the change; what it causes (re-offers, a re-tag correction) is written to the
        outbox in the same transactions and published by the relay, so a crash after the
        commit cannot lose it (a redelivered lifecycle event is a no-op by then)."""
        try:
            freed = await self.apply(
                event.id, event.data, actor=event.source, correlation_id=event.correlation_id
            )
        except UnknownItem as exc:
            raise PoisonMessage(str(exc)) from exc
        if freed:
            await self.dispatcher.offer_waiting(event.data.at, correlation_id=event.correlation_id)
        if self.relay is not None:
            self.relay.notify()
        return []

    async def apply(
        self, event_id: str, change: Lifecycle, actor: str, correlation_id: str | None = None
    ) -> bool:
        """Apply ``change`` once. Returns True when it freed agent capacity. Raises ``UnknownItem``."""
        change = change.model_copy(update={"at": utc(change.at)})
        async with transaction(self.sessions) as repo:
            if await repo.lifecycle_seen(event_id):
                return False
            row = await repo.item(change.item_id)
            if row is None:
                raise UnknownItem(f"no routed item {change.item_id}")
            repo.add_lifecycle_receipt(event_id, change)
            if change.action in CORRECTING:
                await self._correct(repo, event_id, row, change, actor, correlation_id or event_id)
            freed = await self._change(repo, row, change)
            if change.action is LifecycleAction.NOTE and change.note:  # for the customer context
                await repo.add_note(
                    event_id=event_id,
                    conversation_key=row.conversation_key,
                    at=change.at,
                    text=change.note,
                    author=change.agent_id or actor,
                    item_id=row.event_id,
                    language=row.language,
                )
            fill_durations(row, self.dispatcher.state.calendar)  # KPI durations, once, when known
            repo.audit(
                change.at,
                row.message_key,
                f"helpdesk_{change.action.value}",
                _detail(event_id, change),
                actor,
            )
            try:
                await repo.commit()
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                return False  # the same event applied concurrently
        return freed

    async def _correct(
        self,
        repo: Repository,
        event_id: str,
        row: RoutedItem,
        change: Lifecycle,
        actor: str,
        correlation_id: str,
    ) -> None:
        """A re-tag (or "not spam" / "needed a reply") is a person correcting the classifier: a
        ``ClassificationCorrected`` event (key: the message key) joins the outbox in the
        lifecycle event's transaction. The corrections keep the item's tags unless re-tagged."""
        if row.text is None:  # routed before the text was kept (0007_router): nothing to learn from
            log.info("router.retag_without_text", item=row.event_id)
            return
        retag = change.action is LifecycleAction.RETAGGED
        data = Correction(
            message_key=row.message_key,
            text=row.text,
            language=row.language,
            decision=Decision.REPLY,
            tags=tuple(change.tags) if retag else tuple(row.tags or ()),
            previous_decision=Decision.REPLY,
            previous_tags=tuple(row.tags or ()),
            item_id=row.event_id,
            corrected_by=change.agent_id or actor,
            origin=CORRECTING[change.action],
            at=change.at,
        )
        stage = "router:retag-correction" if retag else f"router:{change.action.value}-correction"
        event = ClassificationCorrected(
            id=derived_id(event_id, stage),
            source=SOURCE,
            time=change.at,
            correlation_id=correlation_id,
            subject=row.message_key,
            data=data,
        )
        await repo.add_to_outbox(topics.CORRECTIONS, event, change.at)

    async def _change(self, repo: Repository, row: RoutedItem, change: Lifecycle) -> bool:
        if change.handling_seconds:
            row.handling_s = (row.handling_s or 0.0) + change.handling_seconds
        action = change.action
        if action is LifecycleAction.ASSIGNED and row.assigned_at is None:
            row.assigned_at, row.agent_id = change.at, change.agent_id or row.agent_id
        elif action is LifecycleAction.REPLIED:
            _replied(row, change.at)
        elif action is LifecycleAction.RESOLVED and row.work_state != RESOLVED:
            freed = row.work_state == ASSIGNED and await repo.release(row)
            row.work_state, row.resolved_at = RESOLVED, change.at
            return freed
        elif action is LifecycleAction.RETAGGED:
            row.tags, row.reason = list(change.tags), Signals.of(change.tags).reason
        elif action is LifecycleAction.SATISFACTION:
            row.satisfaction = change.satisfaction
        elif action is LifecycleAction.REOPENED and row.work_state == RESOLVED:
            # open again: waiting for an agent (stickiness brings it back to the same one);
            # the first resolution keeps its KPI duration
            row.work_state, row.resolved_at = WAITING, None
            return True
        return False


def _detail(event_id: str, change: Lifecycle) -> dict:
    """The audit row's detail: a note keeps its text there (the item's history)."""
    detail = {"event_id": event_id, "agent": change.agent_id}
    if change.note is not None:
        detail["note"] = change.note
    return detail


def _replied(row: RoutedItem, at: datetime) -> None:
    """First response time from the message; each further reply from the previous one."""
    since = aware(row.last_response_at) or aware(row.received_at) or aware(row.routed_at)
    row.first_response_at = aware(row.first_response_at) or at
    row.last_response_at = at
    row.responses = (row.responses or 0) + 1
    row.response_s_total = (row.response_s_total or 0.0) + max((at - since).total_seconds(), 0.0)
