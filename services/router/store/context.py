"""What the customer context of a batch's routed items is built from, read in four queries per
batch (not per item): the conversations' latest messages, the replies the router released in
them, the customers' routed items of the last 90 days and the conversations' internal notes.

``History`` keeps them in memory for the batch; the repository adds what the batch itself
records (``heard``, ``contacted``), so a follow-up in the same poll sees the message before it.
Texts are PII-masked (``shared.pii.mask_text``, as the classifier masks): customers' messages
and notes when they are stored, released replies when they are read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.context import (
    CONTACT_DAYS,
    CONTACTS_COUNTED,
    INBOUND,
    OUTBOUND,
    Contact,
    Note,
    Said,
    build,
    customer_key,
    cut,
)
from services.router.store.rows import RESOLVED, aware, utc
from services.router.tables import ConversationMessage, ConversationNote, Draft, RoutedItem
from shared.events import CONTEXT_MESSAGES, CanonicalMessage, CustomerContext
from shared.pii import mask_text, region_of

RELEASED = "released"  # reviews.RELEASED: a draft posted to the customer


def masked(text: str, language: str | None) -> str:
    """``text`` as the context shows it: PII masked, cut to the context's bound."""
    return cut(mask_text(text, region_of(language)))[0]


@dataclass
class History:
    conversations: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    said: dict[str, list[Said]] = field(default_factory=lambda: defaultdict(list))
    contacts: dict[str, list[Contact]] = field(default_factory=lambda: defaultdict(list))
    notes: dict[str, list[Note]] = field(default_factory=lambda: defaultdict(list))

    def covers(self, message: CanonicalMessage) -> bool:
        return (
            message.conversation_key in self.conversations
            and customer_of(message) in self.customers
        )

    def context_of(self, message: CanonicalMessage) -> CustomerContext:
        customer = customer_of(message)
        return build(
            customer=customer,
            message_key=message.message_key,
            posted_at=message.created_at,
            said=self.said.get(message.conversation_key, ()),
            contacts=self.contacts.get(customer, ()),
            notes=self.notes.get(message.conversation_key, ()),
        )

    def heard(self, conversation_key: str, said: Said) -> None:
        if conversation_key in self.conversations:
            self.said[conversation_key].append(said)

    def contacted(self, customer: str, contact: Contact) -> None:
        if customer in self.customers:
            self.contacts[customer].append(contact)

    def merge(self, other: History) -> None:
        for key in other.conversations - self.conversations:
            self.said[key] = other.said.get(key, [])
            self.notes[key] = other.notes.get(key, [])
        for key in other.customers - self.customers:
            self.contacts[key] = other.contacts.get(key, [])
        self.conversations |= other.conversations
        self.customers |= other.customers


def customer_of(message: CanonicalMessage) -> str:
    return customer_key(message.platform.value, message.author.id)


async def load_history(session: AsyncSession, messages: list[CanonicalMessage]) -> History:
    """What the context of ``messages`` needs, in four queries."""
    history = History(
        conversations={m.conversation_key for m in messages},
        customers={customer_of(m) for m in messages},
    )
    if not messages:
        return history
    keys = sorted(history.conversations)
    for conversation, said in await _inbound(session, keys) + await _outbound(session, keys):
        history.said[conversation].append(said)
    since = min(m.created_at for m in messages) - timedelta(days=CONTACT_DAYS)
    for customer, contact in await _contacts(session, sorted(history.customers), since):
        history.contacts[customer].append(contact)
    notes = await session.execute(
        select(ConversationNote).where(ConversationNote.conversation_key.in_(keys))
    )
    for n in notes.scalars():
        history.notes[n.conversation_key].append(Note(aware(n.at), n.author, n.text))
    return history


async def _inbound(session: AsyncSession, keys: list[str]) -> list[tuple[str, Said]]:
    """The latest customers' messages of each conversation (a few more than shown, so the
    context knows when it left some out)."""
    rank = (
        func.row_number()
        .over(
            partition_by=ConversationMessage.conversation_key,
            order_by=(ConversationMessage.at.desc(), ConversationMessage.message_key.desc()),
        )
        .label("rank")
    )
    latest = (
        select(ConversationMessage, rank)
        .where(ConversationMessage.conversation_key.in_(keys))
        .subquery()
    )
    rows = await session.execute(select(latest).where(latest.c.rank <= CONTEXT_MESSAGES + 2))
    return [
        (
            r.conversation_key,
            Said(r.message_key, aware(r.at), INBOUND, r.author_id, r.text, r.sentiment),
        )
        for r in rows
    ]


async def _outbound(session: AsyncSession, keys: list[str]) -> list[tuple[str, Said]]:
    """Replies the router released (four-eyes drafts) in the conversations."""
    rows = await session.execute(
        select(Draft, RoutedItem.conversation_key, RoutedItem.language)
        .join(RoutedItem, RoutedItem.message_key == Draft.message_key)
        .where(RoutedItem.conversation_key.in_(keys), Draft.state == RELEASED)
    )
    return [
        (
            conversation,
            Said(
                None,
                aware(draft.decided_at or draft.created_at),
                OUTBOUND,
                draft.author,
                masked(draft.text, language),
            ),
        )
        for draft, conversation, language in rows
    ]


async def _contacts(
    session: AsyncSession, customers: list[str], since
) -> list[tuple[str, Contact]]:
    """Each customer's latest routed items since ``since``: as many as the context counts (and
    two more: the message itself may be stored, redelivered), so a prolific author costs a
    bounded read."""
    rank = (
        func.row_number()
        .over(
            partition_by=RoutedItem.customer_key,
            order_by=(RoutedItem.received_at.desc(), RoutedItem.message_key.desc()),
        )
        .label("rank")
    )
    latest = (
        select(
            RoutedItem.customer_key,
            RoutedItem.message_key,
            RoutedItem.received_at,
            RoutedItem.reason,
            RoutedItem.first_response_at,
            RoutedItem.work_state,
            RoutedItem.satisfaction,
            rank,
        )
        .where(RoutedItem.customer_key.in_(customers), RoutedItem.received_at >= utc(since))
        .subquery()
    )
    rows = await session.execute(
        select(
            latest.c.customer_key,
            latest.c.message_key,
            latest.c.received_at,
            latest.c.reason,
            latest.c.first_response_at,
            latest.c.work_state,
            latest.c.satisfaction,
        ).where(latest.c.rank <= CONTACTS_COUNTED + 2)
    )
    return [
        (
            customer,
            Contact(
                message_key=key,
                at=aware(at),
                reason=reason,
                replied=first is not None,
                resolved=state == RESOLVED,
                satisfaction=satisfaction,
            ),
        )
        for customer, key, at, reason, first, state, satisfaction in rows
    ]
