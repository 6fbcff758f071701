"""The router's consumer stage: every classified message is counted for the KPIs; one that
needs a reply is placed in a queue (rule, SLA in business time from its post time, priority,
four-eyes), given its customer context and suggested response templates, stored, offered to an
agent at once, and published — with an assignment event when an agent took it, or an
unstaffed-queue event for the notifier when nobody could."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.router import triage
from services.router.dispatcher import Dispatcher
from services.router.outbox import SOURCE, assigned_event
from services.router.policy import route
from services.router.store import (
    TRIAGED,
    WAITING,
    Repository,
    RoutedItems,
    aware,
    routing_of,
    transaction,
)
from services.router.tables import RoutedItem
from services.router.templates import TemplateSet
from services.router.webhooks import WebhookBridge
from shared import topics
from shared.codec import PoisonMessage
from shared.events import (
    Assignment,
    Decision,
    ItemRouted,
    MessageClassified,
    QueueUnstaffed,
    Routed,
    derived_id,
    utcnow,
)
from shared.logging import get_logger
from shared.runner import Output, RecordMeta, Result, Stage

Clock = Callable[[], datetime]
log = get_logger(__name__)


def assignment_of(row: RoutedItem, cause: str = "routed") -> Assignment:
    return Assignment(
        item_id=row.event_id,
        message_key=row.message_key,
        conversation_key=row.conversation_key,
        queue=row.queue,
        agent_id=row.agent_id,
        cause=cause,
        relax_level=row.relax_level,
        assigned_at=aware(row.assigned_at),
    )


@dataclass
class RouterStage(Stage):
    sessions: Callable
    items: RoutedItems
    dispatcher: Dispatcher
    clock: Clock = utcnow
    bridge: WebhookBridge | None = None
    templates: TemplateSet = TemplateSet(())

    async def process_batch(
        self,
        items: Sequence[tuple[MessageClassified, RecordMeta]],
    ) -> list[list[Output]]:
        """A poll in one transaction: per message the KPI fact, ledger row, assignment and audit;
        one commit (``on_batch_acked`` marks all queued once the broker acknowledged them)."""
        answers: list[list[Output]] = []
        async with transaction(self.sessions) as repo:
            messages = [event.data.message for event, _ in items]
            facts, known = await repo.prefetch(
                [m.message_key for m in messages], [m.conversation_key for m in messages]
            )
            replies = [e.data for e, _ in items if e.data.classification.decision is Decision.REPLY]
            await repo.load_context([c.message for c in replies])  # four queries a poll
            for event, _meta in items:
                answers.append(await self._handle(repo, event, facts, known))
            await repo.commit()
        return answers

    async def on_batch_acked(self, results: Sequence[Result]) -> None:
        """One update marks every published item queued; the webhook bridge gets the events."""
        published = [list(r) for r in results if not isinstance(r, PoisonMessage) and r]
        if not published:
            return
        keys = [outputs[0].event.data.message.message_key for outputs in published]
        await self.items.mark_queued_many(keys)
        if self.bridge is not None:  # per-queue copies share their event's id: each event once
            events = {o.event.id: o.event for outputs in published for o in outputs}
            await self.bridge.enqueue(list(events.values()), self.clock())

    async def _handle(
        self,
        repo: Repository,
        event: MessageClassified,
        facts: set[str],
        known: dict[str, RoutedItem],
    ) -> list[Output]:
        now, state = self.clock(), self.dispatcher.state
        placement = route(event.data, state.config, state.calendar, now)
        triaged = event.data.classification.decision.value in TRIAGED
        queue = triage.would_be_queue(event.data, state.config) if triaged else None
        await repo.record_fact(
            event.data, known=facts, event_id=event.id, classified_at=event.time, queue=queue
        )
        if placement is None:
            return []
        item = Routed(
            message=event.data.message,
            classification=event.data.classification,
            routing=placement.routing,
            context=await repo.context_of(event.data.message),
            suggested_templates=self.templates.suggest(
                placement.signals.reason,
                event.data.classification.language,
                event.data.message.channel_kind,
            ),
        )
        row = await repo.claim(derived_id(event.id, "router"), item, placement, known)
        if row is None:
            return []
        made = await self.dispatcher.place(repo, row, now)
        return await self._outputs(repo, event, item, row, made)

    async def _outputs(
        self,
        repo: Repository,
        event: MessageClassified,
        item: Routed,
        row: RoutedItem,
        made: Assignment | None,
    ) -> list[Output]:
        routed = ItemRouted(
            id=row.event_id,
            source=SOURCE,
            time=aware(row.routed_at),
            correlation_id=event.correlation_id,
            subject=event.subject,
            data=item.model_copy(update={"routing": routing_of(row, item.routing.policy)}),
        )
        repo.keep_record(row, routed)  # for the republication sweep (pending.py)
        # the main routed topic (notifier, helpdesks reading every queue) and the queue's own copy
        outputs = [
            Output(topics.ROUTED, routed),
            Output(topics.per_queue(topics.ROUTED, row.queue), routed),
        ]
        if row.agent_id is not None:
            assignment = made or assignment_of(row)
            outputs.append(
                Output(topics.ASSIGNED, assigned_event(assignment, event.correlation_id))
            )
        elif row.work_state == WAITING and await self.dispatcher.should_tell_unstaffed(repo, row):
            notice = await self._unstaffed(repo, row, event.correlation_id)
            outputs.append(Output(topics.UNSTAFFED, notice))
        return outputs

    async def _unstaffed(
        self, repo: Repository, row: RoutedItem, correlation_id: str
    ) -> QueueUnstaffed:
        notice = await self.dispatcher.unstaffed(repo, row, correlation_id=correlation_id)
        log.info(
            "router.unstaffed",
            queue=row.queue,
            waiting=notice.data.waiting,
            online_agents=notice.data.online_agents,
        )
        return notice
