"""A routed item's customer context: the conversation so far, the customer's earlier contacts
and the internal notes on the conversation — what an agent should know before answering.
Pure: the store hands in what it read (``Said``, ``Contact``, ``Note``), already PII-masked.

Bounded: the last ``CONTEXT_MESSAGES`` messages and ``CONTEXT_NOTES`` notes, each text cut to
``CONTEXT_TEXT_CHARS`` characters (``truncated`` says when anything was left out). Deterministic
for one message: only what was posted before it counts, so a redelivery builds the same context.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.events import (
    CONTEXT_MESSAGES,
    CONTEXT_NOTES,
    CONTEXT_TEXT_CHARS,
    ContextMessage,
    ContextNote,
    CustomerContext,
    EarlierContacts,
)

CONTACT_DAYS = 90
CONTACTS_COUNTED = 100  # earlier contacts are counted up to this many
Direction = Literal["inbound", "outbound"]
INBOUND: Direction = "inbound"
OUTBOUND: Direction = "outbound"


@dataclass(frozen=True)
class Said:
    """A message of a conversation: the customer's side (inbound) or a released reply."""

    message_key: str | None
    at: datetime
    direction: Direction
    author: str | None
    text: str
    sentiment: str | None = None


@dataclass(frozen=True)
class Contact:
    """An earlier routed item of the customer."""

    message_key: str
    at: datetime  # the post time
    reason: str | None
    replied: bool
    resolved: bool
    satisfaction: float | None


@dataclass(frozen=True)
class Note:
    at: datetime
    author: str | None
    text: str


def customer_key(platform: str, author_id: str) -> str:
    """Who the customer is for earlier contacts: the author on one platform."""
    return f"{platform}:{author_id}"


def cut(text: str) -> tuple[str, bool]:
    """``text`` within ``CONTEXT_TEXT_CHARS`` (cut with …), and whether it was cut."""
    if len(text) <= CONTEXT_TEXT_CHARS:
        return text, False
    return text[:CONTEXT_TEXT_CHARS].rstrip() + "…", True


def build(
    *,
    customer: str,
    message_key: str,
    posted_at: datetime,
    said: Iterable[Said],
    contacts: Iterable[Contact],
    notes: Iterable[Note],
) -> CustomerContext:
    """The context of message ``message_key`` posted at ``posted_at`` by ``customer``."""
    earlier = sorted(
        (s for s in said if s.message_key != message_key and s.at <= posted_at),
        key=lambda s: (s.at, s.message_key or ""),
    )
    shown = earlier[-CONTEXT_MESSAGES:]
    messages, cut_any = [], False
    for s in shown:
        text, was_cut = cut(s.text)
        cut_any |= was_cut
        messages.append(
            ContextMessage(
                at=s.at,
                direction=s.direction,
                author=s.author,
                text=text,
                sentiment=s.sentiment,
                message_key=s.message_key,
            )
        )
    kept_notes = sorted(notes, key=lambda n: n.at)
    shown_notes = kept_notes[-CONTEXT_NOTES:]
    note_models = []
    for n in shown_notes:
        text, was_cut = cut(n.text)
        cut_any |= was_cut
        note_models.append(ContextNote(at=n.at, author=n.author, text=text))
    return CustomerContext(
        customer=customer,
        conversation=tuple(messages),
        earlier_contacts=earlier_contacts(contacts, message_key, posted_at),
        notes=tuple(note_models),
        truncated=cut_any or len(shown) < len(earlier) or len(shown_notes) < len(kept_notes),
    )


def earlier_contacts(
    contacts: Iterable[Contact], message_key: str, posted_at: datetime, days: int = CONTACT_DAYS
) -> EarlierContacts:
    """The customer's routed items posted in the ``days`` before ``posted_at`` (this one
    excluded): how many (up to ``CONTACTS_COUNTED``), and the last one's reason, outcome and
    satisfaction."""
    since = posted_at - timedelta(days=days)
    found = sorted(
        (c for c in contacts if c.message_key != message_key and since <= c.at <= posted_at),
        key=lambda c: (c.at, c.message_key),
    )
    if not found:
        return EarlierContacts(days=days)
    last = found[-1]
    outcome = "resolved" if last.resolved else "replied" if last.replied else "open"
    return EarlierContacts(
        days=days,
        count=min(len(found), CONTACTS_COUNTED),
        last_at=last.at,
        last_reason=last.reason,
        last_outcome=outcome,
        last_satisfaction=last.satisfaction,
    )
