"""When to page and what the page says. Pure: the clock and calendar are passed in.

* A reply-needed item routed while the office is closed (weekly hours, public holidays,
  closures: the shared ``BusinessCalendar``) pages when its urgency is at least the page
  threshold (``NOTIFIER_PAGE_MIN_URGENCY``, default ``high``); below it, it waits in the digest
  delivered when the office next opens. Inside office hours the agents see it in their queue.
* Every reply-needed item at or above the SLA threshold gets two durable timers: shortly before
  its SLA deadline and at it; when one fires outside office hours and the item's incident is not
  acknowledged, it pages.
* A spike (a widespread issue, from the classifier) pages at any hour: it needs an escalation path.
* A connector (ingestion source) gone silent pages at any hour: a dead connector loses customer
  messages whether or not the office is open; its recovery resolves the incident.
* A queue with waiting items and nobody online pages during office hours (outside them nobody
  is expected online, and urgent items page by themselves).
Pages are grouped per conversation (``incident_key``): a burst from one customer is one incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.calendar import BusinessCalendar, OfficeHours
from shared.events import (
    ConnectorStatusChanged,
    Decision,
    ItemRouted,
    QueueUnstaffed,
    Urgency,
    WidespreadIssueDetected,
)

URGENCY_RANK = {Urgency.LOW: 0, Urgency.NORMAL: 1, Urgency.HIGH: 2}
PAGE, DIGEST = "page", "digest"


@dataclass(frozen=True)
class PagePlan:
    target: str
    incident_key: str
    summary: str


@dataclass(frozen=True)
class Triage:
    action: str  # page or digest
    incident_key: str
    summary: str
    reason: str


def at_least(urgency: Urgency, threshold: Urgency) -> bool:
    return URGENCY_RANK[urgency] >= URGENCY_RANK[threshold]


def summary_of(event: ItemRouted) -> str:
    item = event.data
    text = " ".join(item.message.text.split())
    line = (
        f"[{item.classification.urgency.value}] {item.routing.queue}: {item.message.platform.value} "
        f"{item.message.channel_kind.value} due {item.routing.sla_deadline:%Y-%m-%d %H:%M %Z} — {text[:200]}"
    )
    return line[:1024]


def plan_page(
    event: ItemRouted,
    hours: OfficeHours | BusinessCalendar,
    now: datetime,
    target: str,
    min_urgency: Urgency = Urgency.LOW,
) -> PagePlan | None:
    """The page ``event`` calls for at ``now``, or ``None`` when nobody should be woken."""
    item = event.data
    if item.classification.decision is not Decision.REPLY or hours.is_open(now):
        return None
    if not at_least(item.classification.urgency, min_urgency):
        return None
    return PagePlan(
        target=target, incident_key=item.message.conversation_key, summary=summary_of(event)
    )


def triage(
    event: ItemRouted, calendar: BusinessCalendar, now: datetime, min_urgency: Urgency
) -> Triage | None:
    """Page, digest or nothing (``None``) for a routed item arriving at ``now``."""
    item = event.data
    if item.classification.decision is not Decision.REPLY:
        return None
    closed = calendar.closed_because(now)
    if closed is None:
        return None
    action = PAGE if at_least(item.classification.urgency, min_urgency) else DIGEST
    return Triage(action, item.message.conversation_key, summary_of(event), closed)


def sla_timers(
    event: ItemRouted, warn_before: timedelta, min_urgency: Urgency
) -> list[tuple[str, datetime]]:
    """The (kind, due) SLA timers to arm for ``event``: ``sla-warning`` and ``sla-breach``."""
    item = event.data
    if item.classification.decision is not Decision.REPLY or not at_least(
        item.classification.urgency, min_urgency
    ):
        return []
    deadline = item.routing.sla_deadline
    return [("sla-warning", deadline - warn_before), ("sla-breach", deadline)]


def sla_page(kind: str, calendar: BusinessCalendar, now: datetime, summary: str) -> str | None:
    """The page text for an SLA timer firing at ``now``, or ``None`` while the office is open."""
    closed = calendar.closed_because(now)
    if closed is None:
        return None
    what = "SLA about to pass" if kind == "sla-warning" else "SLA passed"
    return f"{what} ({closed}): {summary}"[:1024]


def unstaffed_page(
    event: QueueUnstaffed, calendar: BusinessCalendar, now: datetime
) -> Triage | None:
    """A page when a queue has items and nobody online during office hours."""
    if not calendar.is_open(now):
        return None
    data = event.data
    summary = (
        f"[{data.urgency.value}] queue {data.queue}: {data.waiting} waiting, {data.online_agents} agents "
        f"online, next due {data.sla_deadline:%Y-%m-%d %H:%M %Z}"
    )
    return Triage(PAGE, f"unstaffed:{data.queue}", summary, "queue unstaffed during office hours")


def spike_page(event: WidespreadIssueDetected) -> Triage:
    """A widespread issue: one incident per (account, spiking key) while it lasts."""
    data = event.data
    summary = (
        f"[spike] {data.key} on {data.account_id}: {data.count} messages in {data.window_seconds}s "
        f"(usual {data.expected:.1f}, threshold {data.threshold:.1f})"
    )
    return Triage(
        PAGE, f"spike:{data.account_id}:{data.key}", summary[:1024], "widespread issue (spike)"
    )


def connector_key(source: str) -> str:
    return f"connector:{source}"[:512]


def connector_page(event: ConnectorStatusChanged) -> Triage:
    """A silent connector: one incident per source until it recovers, at any hour."""
    data = event.data
    last = f"{data.last_event_at:%Y-%m-%d %H:%M %Z}" if data.last_event_at else "never"
    summary = (
        f"[connector] {data.source} ({data.platform}) silent for {data.silent_seconds / 60:.0f} min "
        f"(usual rhythm {data.expected_interval_seconds / 60:.0f} min, last event {last}, "
        f"{data.errors} errors): customer messages may be lost"
    )
    return Triage(PAGE, connector_key(data.source), summary[:1024], "connector silent")
