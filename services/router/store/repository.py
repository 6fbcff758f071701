"""One transaction's door to the router's data: routed items (the idempotency ledger and their
work state), message facts for the KPIs and the triage rows beside them, conversations, agents'
capacity, assignments, lifecycle receipts, and the audit rows and outbox events that are
committed with each change.

A ``Repository`` wraps one session; the caller commits (``commit``), nothing here does. The
agents are loaded once per repository (a consumer batch, a sweep): a repeated SELECT would hand
back the same identity-mapped objects anyway, which this repository's own capacity UPDATEs keep
current (ORM ``synchronize_session``); other replicas' changes are enforced by the conditional
UPDATE in ``reserve``, and a failed one reloads them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.router import outbox
from services.router.assign import AgentView, Choice
from services.router.context import INBOUND, Contact, Said
from services.router.policy import Placement, Signals
from services.router.store.context import History, customer_of, load_history, masked
from services.router.store.rows import (
    ASSIGNED,
    MAX_TAG,
    PENDING,
    QUEUED,
    TRIAGED,
    WAITING,
    audit,
    aware,
    item_row,
    utc,
    view,
)
from services.router.tables import (
    Agent,
    AssignmentRow,
    Conversation,
    ConversationMessage,
    ConversationNote,
    LifecycleReceipt,
    MessageFact,
    OutboxRow,
    RoutedItem,
    TriageMessage,
    TriageTag,
)
from shared.codec import encode
from shared.events import (
    Assignment,
    CanonicalMessage,
    Classified,
    CustomerContext,
    Envelope,
    Lifecycle,
    QueueUnstaffed,
    Routed,
    derived_id,
)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker) -> AsyncIterator[Repository]:
    """A repository over a new session; closed (uncommitted work rolled back) on exit."""
    async with sessions() as session:
        yield Repository(session)


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._agents: list[Agent] | None = None
        self._held: list[Conversation] = []  # the identity map keeps only weak references
        self._history: History | None = None  # the customer context's sources (load_context)

    async def commit(self) -> None:
        await self.session.commit()

    def audit(
        self,
        at: datetime,
        message_key: str | None,
        action: str,
        detail: dict,
        actor: str = "router",
    ) -> None:
        """Add an audit row, committed with the change it explains."""
        audit(self.session, at, message_key, action, detail, actor)

    async def add_to_outbox(self, topic: str, event: Envelope, now: datetime) -> bool:
        """``outbox.add`` in this transaction: published by the relay after the commit."""
        return await outbox.add(self.session, topic, event, now)

    # -- the consumer's ledger: facts, triage rows, routed items -----------------------------

    async def prefetch(
        self,
        message_keys: list[str],
        conversation_keys: Iterable[str] = (),
    ) -> tuple[set[str], dict[str, RoutedItem]]:
        """For a batch: the message keys with a stored fact, and the stored items by key (two
        queries instead of two lookups per message); the batch's stored conversations are
        loaded too (their later lookups by key need no query)."""
        if not message_keys:
            return set(), {}
        if conversation_keys:
            self._held.extend(
                (
                    await self.session.execute(
                        select(Conversation).where(
                            Conversation.conversation_key.in_(sorted(set(conversation_keys)))
                        )
                    )
                ).scalars()
            )
        facts = set(
            (
                await self.session.execute(
                    select(MessageFact.message_key).where(MessageFact.message_key.in_(message_keys))
                )
            ).scalars()
        )
        items = {
            r.message_key: r
            for r in (
                await self.session.execute(
                    select(RoutedItem).where(RoutedItem.message_key.in_(message_keys))
                )
            ).scalars()
        }
        return facts, items

    async def record_fact(
        self,
        item: Classified,
        *,
        known: set[str] | None = None,
        event_id: str | None = None,
        classified_at: datetime | None = None,
        queue: str | None = None,
    ) -> None:
        """Add every classified message once (any decision) and, unless it is spam, keep it
        with its sentiment for the customer context and the sentiment change (``_add_said``);
        a redelivery changes nothing. ``known``: the batch's message keys that
        have a fact (``prefetch``); updated here. A dropped or tagged message is also kept for
        review (the classified event's id and time, and the queue it would have gone to)."""
        signals = Signals.of(item.classification.tags)
        m = item.message
        if known is not None:
            if m.message_key in known:
                return
            known.add(m.message_key)
        elif await self.session.get(MessageFact, m.message_key) is not None:
            return
        self.session.add(
            MessageFact(
                message_key=m.message_key,
                channel=m.channel_kind.value,
                decision=item.classification.decision.value,
                reason=signals.reason,
                sentiment=signals.sentiment,
                received_at=utc(m.created_at),
            )
        )
        self._add_triaged(
            item,
            event_id or derived_id(m.message_key, "router:triage"),
            classified_at or m.created_at,
            queue,
        )
        if item.classification.decision.value != "drop":
            self._add_said(item, signals.sentiment)
        if known is None:
            await self.session.flush()  # a later message of the same batch must see it

    def _add_said(self, item: Classified, sentiment: str | None) -> None:
        """Keep a customer's message for the context of later items of its conversation (PII
        masked, cut) and for the sentiment change per conversation."""
        m, c = item.message, item.classification
        said = Said(
            m.message_key, m.created_at, INBOUND, m.author.id, masked(m.text, c.language), sentiment
        )
        self.session.add(
            ConversationMessage(
                message_key=m.message_key,
                conversation_key=m.conversation_key,
                author_id=m.author.id,
                at=utc(m.created_at),
                decision=c.decision.value,
                sentiment=sentiment,
                text=said.text,
            )
        )
        if self._history is not None:
            self._history.heard(m.conversation_key, said)

    # -- customer context ---------------------------------------------------------------------

    async def load_context(self, messages: list[CanonicalMessage]) -> None:
        """Read what the customer context of ``messages`` needs, in four queries (a batch's
        items then build theirs without a query)."""
        loaded = await load_history(self.session, messages)
        if self._history is None:
            self._history = loaded
        else:
            self._history.merge(loaded)

    async def context_of(self, message: CanonicalMessage) -> CustomerContext:
        """The customer context of ``message``: conversation so far, earlier contacts, notes."""
        if self._history is None or not self._history.covers(message):
            await self.load_context([message])
        assert self._history is not None
        return self._history.context_of(message)

    async def add_note(
        self,
        *,
        event_id: str,
        conversation_key: str,
        at: datetime,
        text: str,
        author: str | None = None,
        item_id: str | None = None,
        language: str | None = None,
    ) -> bool:
        """Keep an internal note on a conversation (a helpdesk's note, carried by the lifecycle
        event ``event_id``), PII masked, for the context of the conversation's later items.
        False when that event's note is already stored."""
        if (
            await self.session.scalar(
                select(ConversationNote.id).where(ConversationNote.event_id == event_id)
            )
            is not None
        ):
            return False
        self.session.add(
            ConversationNote(
                event_id=event_id,
                conversation_key=conversation_key,
                item_id=item_id,
                author=author,
                at=utc(at),
                text=masked(text, language),
            )
        )
        return True

    def _add_triaged(
        self, item: Classified, event_id: str, classified_at: datetime, queue: str | None
    ) -> bool:
        """Keep ``item`` for triage review when it was dropped or tagged (``router_triage``)."""
        c, m = item.classification, item.message
        if c.decision.value not in TRIAGED:
            return False
        tags = list(dict.fromkeys(c.tags))
        self.session.add(
            TriageMessage(
                message_key=m.message_key,
                event_id=event_id,
                platform=m.platform.value,
                channel=m.channel_kind.value,
                account_id=m.account_id,
                author_id=m.author.id,
                language=c.language,
                text=m.text,
                decision=c.decision.value,
                reason=c.reason,
                explanation=c.explanation.model_dump(mode="json"),
                tags=tags,
                queue=queue,
                received_at=utc(m.created_at),
                classified_at=utc(classified_at),
                corrections=0,
            )
        )
        self.session.add_all(
            TriageTag(tag=t, message_key=m.message_key) for t in tags if len(t) <= MAX_TAG
        )
        return True

    async def claim(
        self,
        event_id: str,
        item: Routed,
        placement: Placement,
        known: dict[str, RoutedItem] | None = None,
    ) -> RoutedItem | None:
        """Add ``item`` as pending (with an audit row) and return it; for a known message return
        the stored row if it is still pending, or ``None`` if it was already published. A
        concurrent claim of the same message then fails at the commit with a unique violation
        (transient: the retry finds the stored row). ``known``: the batch's stored rows by
        message key, prefetched in one query (``prefetch``); updated here."""
        key = item.message.message_key
        existing = known.get(key) if known is not None else await self.session.get(RoutedItem, key)
        if existing is not None:
            return existing if existing.state == PENDING else None
        row = item_row(event_id, item, placement)
        self.session.add(row)
        if self._history is not None:
            self._history.contacted(
                customer_of(item.message),
                Contact(key, item.message.created_at, placement.signals.reason, False, False, None),
            )
        if known is not None:
            known[key] = row
        r = item.routing
        self.audit(
            r.routed_at,
            key,
            "routed",
            {
                "queue": r.queue,
                "rule": placement.rule,
                "sla_deadline": r.sla_deadline.isoformat(),
                "policy": r.policy,
                "four_eyes": r.four_eyes,
            },
        )
        if known is None:
            await self.session.flush()
        return row

    async def mark_queued(self, message_keys: list[str]) -> None:
        """Mark items published (their kept record is no longer needed), in one statement."""
        await self.session.execute(
            update(RoutedItem)
            .where(RoutedItem.message_key.in_(message_keys))
            .values(state=QUEUED, record=None)
        )

    @staticmethod
    def keep_record(row: RoutedItem, event: Envelope) -> None:
        """Keep ``event`` (the routed event as published) on the pending ``row``, committed with
        it, so the republication sweep can send it again if its publication never finishes."""
        enc = encode(event)
        row.record = {
            "value": enc.value.decode(),
            "headers": [[k, v.decode()] for k, v in enc.headers],
        }

    async def stale_pending(self, before: datetime, limit: int) -> list[RoutedItem]:
        """Up to ``limit`` items still pending (with a kept record) that were routed before
        ``before``, oldest first; on PostgreSQL locked for this transaction, skipping rows
        another replica's sweep holds."""
        query = (
            select(RoutedItem)
            .where(
                RoutedItem.state == PENDING,
                RoutedItem.routed_at < utc(before),
                RoutedItem.record.is_not(None),
            )
            .order_by(RoutedItem.routed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(query)).scalars())

    # -- routed items ----------------------------------------------------------------------

    async def item(self, item_id: str) -> RoutedItem | None:
        """The routed item with event id ``item_id``."""
        return (
            await self.session.execute(select(RoutedItem).where(RoutedItem.event_id == item_id))
        ).scalar_one_or_none()

    async def item_by_key(self, message_key: str) -> RoutedItem | None:
        return await self.session.get(RoutedItem, message_key)

    async def open_items(self, queue: str) -> list[RoutedItem]:
        """A queue's waiting and assigned items."""
        return list(
            (
                await self.session.execute(
                    select(RoutedItem).where(
                        RoutedItem.queue == queue, RoutedItem.work_state.in_([WAITING, ASSIGNED])
                    )
                )
            ).scalars()
        )

    async def waiting(self, limit: int) -> list[RoutedItem]:
        """Up to ``limit`` waiting items, oldest first."""
        query = select(RoutedItem).where(RoutedItem.work_state == WAITING)
        return list(
            (
                await self.session.execute(query.order_by(RoutedItem.routed_at).limit(limit))
            ).scalars()
        )

    async def waiting_count(self, queue: str) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(RoutedItem)
                .where(RoutedItem.queue == queue, RoutedItem.work_state == WAITING)
            )
            or 0
        )

    async def waiting_queues(self) -> list[tuple[str, datetime]]:
        """Each queue with waiting items and when its oldest waiting item was routed."""
        return [
            (q, aware(at))
            for q, at in (
                await self.session.execute(
                    select(RoutedItem.queue, func.min(RoutedItem.routed_at))
                    .where(RoutedItem.work_state == WAITING)
                    .group_by(RoutedItem.queue)
                )
            ).all()
        ]

    async def oldest_waiting(self, queue: str) -> RoutedItem:
        return (
            await self.session.execute(
                select(RoutedItem)
                .where(
                    RoutedItem.queue == queue,
                    RoutedItem.work_state == WAITING,
                )
                .order_by(RoutedItem.routed_at, RoutedItem.message_key)
                .limit(1)
            )
        ).scalar_one()

    async def last_notified_waiting(self, queue: str) -> datetime | None:
        """When the newest still-waiting item of ``queue`` that raised an unstaffed notice was
        routed."""
        return aware(
            await self.session.scalar(
                select(func.max(RoutedItem.routed_at)).where(
                    RoutedItem.queue == queue,
                    RoutedItem.unstaffed_notified.is_(True),
                    RoutedItem.work_state == WAITING,
                )
            )
        )

    async def last_unstaffed_notice(self, queue: str) -> datetime | None:
        """The latest unstaffed notice about ``queue``: an item that raised one when it was
        routed, or a reminder in the outbox."""
        stamps = [
            await self.session.scalar(
                select(func.max(RoutedItem.routed_at)).where(
                    RoutedItem.queue == queue, RoutedItem.unstaffed_notified.is_(True)
                )
            ),
            await self.session.scalar(
                select(func.max(OutboxRow.created_at)).where(
                    OutboxRow.event_type == QueueUnstaffed.TYPE, OutboxRow.key == queue
                )
            ),
        ]
        return max((aware(t) for t in stamps if t is not None), default=None)

    async def queues_of(self, item_ids: set[str]) -> dict[str, str]:
        """Item (event) id -> its queue, for the items in the ledger."""
        return dict(
            (
                await self.session.execute(
                    select(RoutedItem.event_id, RoutedItem.queue).where(
                        RoutedItem.event_id.in_(item_ids)
                    )
                )
            ).all()
        )

    # -- helpdesk lifecycle receipts -------------------------------------------------------

    async def lifecycle_seen(self, event_id: str) -> bool:
        return await self.session.get(LifecycleReceipt, event_id) is not None

    def add_lifecycle_receipt(self, event_id: str, change: Lifecycle) -> None:
        self.session.add(
            LifecycleReceipt(
                event_id=event_id, item_id=change.item_id, action=change.action.value, at=change.at
            )
        )

    # -- agents, conversations, assignments ------------------------------------------------

    async def agents(self) -> list[AgentView]:
        """The agents as this transaction sees them (loaded once, see the module docstring)."""
        if self._agents is None:
            self._agents = list(
                (
                    await self.session.execute(
                        select(Agent).execution_options(populate_existing=True)
                    )
                ).scalars()
            )
        return [view(a) for a in self._agents]

    async def agent(self, agent_id: str) -> Agent | None:
        return await self.session.get(Agent, agent_id)

    async def conversation(self, conversation_key: str) -> Conversation | None:
        return await self.session.get(Conversation, conversation_key)

    async def reserve(self, agent_id: str) -> bool:
        """Take a unit of an online agent's free capacity (one conditional UPDATE, so replicas
        never overfill an agent). False when another replica got there first."""
        taken = await self.session.execute(
            update(Agent)
            .where(
                Agent.id == agent_id,
                Agent.status == "online",
                Agent.load < Agent.capacity,
            )
            .values(load=Agent.load + 1)
        )
        if taken.rowcount != 1:
            self._agents = None  # reload the agents
            return False
        return True

    async def free(self, agent_id: str) -> None:
        """Give back a unit of ``agent_id``'s capacity."""
        await self.session.execute(
            update(Agent).where(Agent.id == agent_id, Agent.load > 0).values(load=Agent.load - 1)
        )

    async def move_conversation(self, conv: Conversation, agent_id: str) -> None:
        """The conversation's assigned items go to ``agent_id``; its previous agent is freed."""
        await self.free(conv.agent_id)
        await self.session.execute(
            update(RoutedItem)
            .where(
                RoutedItem.conversation_key == conv.conversation_key,
                RoutedItem.work_state == ASSIGNED,
            )
            .values(agent_id=agent_id)
        )

    def record_assignment(
        self,
        row: RoutedItem,
        conv: Conversation | None,
        choice: Choice,
        *,
        now: datetime,
        cause: str,
    ) -> Assignment:
        """Assign ``row`` to the chosen agent: its conversation (created when new) counts one more
        open item, an assignment row and an audit row are added."""
        if conv is None:
            conv = Conversation(conversation_key=row.conversation_key, open_items=0)
            self.session.add(conv)
            self._held.append(conv)  # later items of the batch find it without a query
        # open items of a moved conversation moved with it (move_conversation): the count carries on
        conv.agent_id, conv.open_items = choice.agent_id, (conv.open_items or 0) + 1
        row.work_state, row.agent_id, row.assigned_at = ASSIGNED, choice.agent_id, now
        self.session.add(
            AssignmentRow(
                message_key=row.message_key,
                agent_id=choice.agent_id,
                cause=cause,
                relax_level=row.relax_level,
                assigned_at=now,
            )
        )
        self.audit(
            now,
            row.message_key,
            "assigned",
            {
                "agent": choice.agent_id,
                "cause": cause,
                "relax_level": row.relax_level,
                "queue": row.queue,
            },
        )
        return Assignment(
            item_id=row.event_id,
            message_key=row.message_key,
            conversation_key=row.conversation_key,
            queue=row.queue,
            agent_id=choice.agent_id,
            cause=cause,
            relax_level=row.relax_level,
            assigned_at=now,
        )

    async def release(self, row: RoutedItem) -> bool:
        """Close ``row`` in its conversation; True when that freed a unit of its agent's
        capacity."""
        conv = await self.conversation(row.conversation_key)
        if conv is None or conv.agent_id != row.agent_id or conv.open_items <= 0:
            return False
        conv.open_items -= 1
        if conv.open_items > 0:
            return False
        await self.free(row.agent_id)
        return True
