"""When to page and what the page says. Pure: the clock and calendar are passed in.

Walking-skeleton rule: a reply-needed item routed while the office is closed pages the
on-call target; inside office hours the agents see it in their queue and nobody is woken.
Pages are grouped per conversation (``incident_key``) so a burst from one customer is one
incident. Rotations, escalation and urgency thresholds come with the notifier issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.calendar import OfficeHours
from shared.events import Decision, ItemRouted, Page


@dataclass(frozen=True)
class PagePlan:
    target: str
    incident_key: str
    summary: str


def plan_page(event: ItemRouted, hours: OfficeHours, now: datetime, target: str) -> PagePlan | None:
    """The page ``event`` calls for at ``now``, or ``None`` when nobody should be woken."""
    item = event.data
    if item.classification.decision is not Decision.REPLY or hours.is_open(now):
        return None
    text = " ".join(item.message.text.split())
    summary = (
        f"[{item.classification.urgency.value}] {item.routing.queue}: {item.message.platform.value} "
        f"{item.message.channel_kind.value} due {item.routing.sla_deadline:%Y-%m-%d %H:%M %Z} — {text[:200]}"
    )
    return PagePlan(target=target, incident_key=item.message.conversation_key, summary=summary[:1024])


def page_of(plan: PagePlan, event: ItemRouted, sent_at: datetime) -> Page:
    return Page(
        incident_key=plan.incident_key, item_event_id=event.id, queue=event.data.routing.queue,
        target=plan.target, summary=plan.summary, sent_at=sent_at, message_key=event.data.message.message_key,
    )
