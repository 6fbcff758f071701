"""The router's consumer stage: every classified message is counted for the KPIs; one that
needs a reply is placed in a queue (rule, SLA in business time, priority, four-eyes), stored,
offered to an agent at once, and published — with an assignment event when an agent took it,
or an unstaffed-queue event for the notifier when nobody could."""

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
from services.router.webhooks import WebhookBridge
from shared import topics
from shared.codec import PoisonMessage
from shared.events import (
    Assignment,
    Envelope,
    ItemRouted,
    MessageClassified,
    QueueUnstaffed,
    Routed,
    derived_id,
    utcnow,
)
from shared.logging import get_logger
from shared.runner import Output, RecordMeta

Clock = Callable[[], datetime]
log = get_logger(__name__)


def assignment_of(row: RoutedItem, cause: str = "routed") -> Assignment:
    return Assignment(item_id=row.event_id, message_key=row.message_key, conversation_key=row.conversation_key,
                      queue=row.queue, agent_id=row.agent_id, cause=cause, relax_level=row.relax_level,
                      assigned_at=aware(row.assigned_at))


@dataclass
class RouterStage:
    sessions: Callable
    items: RoutedItems
    dispatcher: Dispatcher
    clock: Clock = utcnow
    bridge: WebhookBridge | None = None

    async def __call__(self, event: Envelope, meta: RecordMeta) -> list[Output]:
        """One message in its own transaction (the batch hook is the usual path)."""
        [answer] = await self.stage_batch([(event, meta)])
        if isinstance(answer, PoisonMessage):
            raise answer
        return list(answer)

    async def stage_batch(self, items: Sequence[tuple[Envelope, RecordMeta]]) -> list[list[Output] | PoisonMessage]:
        """A poll in one transaction: per message the KPI fact, ledger row, assignment and audit;
        one commit; after the broker acknowledged every output, one update marks all queued."""
        answers: list[list[Output] | PoisonMessage] = []
        published: list[tuple[str, list[Envelope]]] = []
        async with transaction(self.sessions) as repo:
            classified = [e.data.message for e, _ in items if isinstance(e, MessageClassified)]
            facts, known = await repo.prefetch([m.message_key for m in classified],
                                               [m.conversation_key for m in classified])
            for event, _meta in items:
                if not isinstance(event, MessageClassified):
                    answers.append(PoisonMessage(f"router expects {MessageClassified.TYPE}, got {event.event_type}"))
                    continue
                outputs = await self._handle(repo, event, facts, known)
                answers.append(outputs)
                if outputs:
                    published.append((outputs[0].event.data.message.message_key, [o.event for o in outputs]))
            await repo.commit()
        if published:
            self._on_acked(answers, published)
        return answers

    async def _handle(self, repo: Repository, event: MessageClassified, facts: set[str],
                      known: dict[str, RoutedItem]) -> list[Output]:
        now, state = self.clock(), self.dispatcher.state
        placement = route(event.data, state.config, state.calendar, now)
        triaged = event.data.classification.decision.value in TRIAGED
        queue = triage.would_be_queue(event.data, state.config) if triaged else None
        await repo.record_fact(event.data, known=facts, event_id=event.id, classified_at=event.time,
                               queue=queue)
        if placement is None:
            return []
        item = Routed(message=event.data.message, classification=event.data.classification,
                      routing=placement.routing)
        row = await repo.claim(derived_id(event.id, "router"), item, placement, known)
        if row is None:
            return []
        made = await self.dispatcher.place(repo, row, now)
        return await self._outputs(repo, event, item, row, made)

    def _on_acked(self, answers: list, published: list[tuple[str, list[Envelope]]]) -> None:
        """Attach one follow-up to the batch's last output: mark every item queued, feed the bridge."""
        keys = [key for key, _ in published]
        events = list({e.id: e for _, evs in published for e in evs}.values())  # per-queue copies share ids

        async def mark() -> None:
            await self.items.mark_queued_many(keys)
            if self.bridge is not None:
                await self.bridge.enqueue(events, self.clock())

        last = max(i for i, a in enumerate(answers) if isinstance(a, list) and a)
        tail = answers[last][-1]
        answers[last][-1] = Output(tail.topic, tail.event, on_acked=mark)

    async def _outputs(self, repo: Repository, event: MessageClassified, item: Routed,
                       row: RoutedItem, made: Assignment | None) -> list[Output]:
        routed = ItemRouted(id=row.event_id, source=SOURCE, time=aware(row.routed_at), correlation_id=event.correlation_id,
                            subject=event.subject, data=item.model_copy(
                                update={"routing": routing_of(row, item.routing.policy)}))
        # the main routed topic (notifier, helpdesks reading every queue) and the queue's own copy
        outputs = [Output(topics.ROUTED, routed), Output(topics.per_queue(topics.ROUTED, row.queue), routed)]
        if row.agent_id is not None:
            assignment = made or assignment_of(row)
            outputs.append(Output(topics.ASSIGNED, assigned_event(assignment, event.correlation_id)))
        elif row.work_state == WAITING and await self.dispatcher.should_tell_unstaffed(repo, row):
            notice = await self._unstaffed(repo, row, event.correlation_id)
            outputs.append(Output(topics.UNSTAFFED, notice))
        return outputs

    async def _unstaffed(self, repo: Repository, row: RoutedItem,
                         correlation_id: str) -> QueueUnstaffed:
        notice = await self.dispatcher.unstaffed(repo, row, correlation_id=correlation_id)
        log.info("router.unstaffed", queue=row.queue, waiting=notice.data.waiting,
                 online_agents=notice.data.online_agents)
        return notice
