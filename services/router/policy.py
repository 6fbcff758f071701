"""Where a reply-needed item goes, how urgent it is and when it is due. Pure: no I/O.

``route(item, config, calendar, now)`` picks the first routing rule whose match holds
(language, channel, contact reason, tags, urgency; else the fallback queue), the SLA from the
policy for the item's channel and urgency counted in *business* time on the shared calendar
from the message's post time (the customer's clock, not the router's), the four-eyes flag,
and a priority that ``priority_at`` recomputes whenever it is read.
``requirement`` is the one place that says which skill (and proficiency) an item needs: the
placement carries it, and ``need`` asks it again for a stored item when it is offered to agents
(the configuration may have changed since).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.router.assign import Need
from services.router.rules import Match, QueueSpec, RoutingConfig, Rule
from shared.calendar import BusinessCalendar
from shared.events import (
    REASON_TAG,
    SENTIMENT_TAG,
    ChannelKind,
    Classified,
    Decision,
    Routing,
    Urgency,
    tagged,
)

_URGENCY_BASE = {Urgency.LOW: 10, Urgency.NORMAL: 25, Urgency.HIGH: 45}
FALLBACK_RULE = "fallback"


@dataclass(frozen=True)
class Signals:
    """What the classification tags say beyond the decision: contact reason, sentiment, VIP."""

    reason: str | None
    sentiment: str | None
    vip: bool

    @classmethod
    def of(cls, tags: tuple[str, ...]) -> Signals:
        return cls(
            reason=tagged(tags, REASON_TAG),
            sentiment=tagged(tags, SENTIMENT_TAG),
            vip="vip" in tags,
        )


@dataclass(frozen=True)
class Placement:
    """The routing decision with everything assignment and priority need later."""

    routing: Routing
    rule: str
    skill: str | None
    min_proficiency: int
    signals: Signals
    sla_business: timedelta


def matches(match: Match, item: Classified, signals: Signals) -> bool:
    c, m = item.classification, item.message
    tags = set(c.tags)
    return all(
        (
            not match.language or c.language in match.language,
            not match.channel or m.channel_kind in match.channel,
            not match.reason or signals.reason in match.reason,
            not match.urgency or c.urgency in match.urgency,
            not match.tags_any or bool(tags & set(match.tags_any)),
            set(match.tags_all) <= tags,
        )
    )


def pick_rule(item: Classified, config: RoutingConfig, signals: Signals) -> Rule | None:
    return next((r for r in config.rules if matches(r.match, item, signals)), None)


def requirement(rule: Rule | None, queue: QueueSpec | None) -> tuple[str | None, int]:
    """The skill an item needs and its minimum proficiency: the rule's skill, else its queue's;
    the rule's minimum, else 1."""
    skill = (rule.skill if rule else None) or (queue.skill if queue else None)
    return skill, rule.min_proficiency if rule else 1


def need(
    config: RoutingConfig,
    *,
    rule_id: str | None,
    queue_id: str,
    language: str | None,
    channel: str | None,
    locale: str | None,
) -> Need:
    """What an agent must offer to take a stored item of rule ``rule_id`` in ``queue_id`` under
    ``config`` (a rule or queue no longer configured asks for no skill; no queue, no team)."""
    rule = next((r for r in config.rules if r.id == rule_id), None)
    queue = next((q for q in config.queues if q.id == queue_id), None)
    skill, minimum = requirement(rule, queue)
    return Need(
        language=language or "",
        channel=channel or "",
        skill=skill,
        min_proficiency=minimum,
        team=queue.team if queue else "",
        locale=locale,
    )


def sla_for(config: RoutingConfig, channel: ChannelKind, urgency: Urgency) -> timedelta:
    return timedelta(minutes=config.sla.minutes[channel][urgency])


def sla_start(created_at: datetime, now: datetime) -> datetime:
    """When the SLA clock starts: the platform's post time, so time spent in pollers, backlogs
    or broker outages counts against the SLA; ``now`` when the post time lies after it (clock
    skew), never later."""
    return min(created_at, now)


def route(
    item: Classified, config: RoutingConfig, calendar: BusinessCalendar, now: datetime
) -> Placement | None:
    """The placement of ``item`` at ``now``, or ``None`` when it needs no reply (drop or tag).

    The SLA deadline counts the business minutes from the message's post time (``sla_start``):
    a message that waited longer than its SLA is routed already breached, with the breached
    priority, so it comes first; the routing records the wait as ``ingestion_delay_seconds``."""
    c = item.classification
    if c.decision is not Decision.REPLY:
        return None
    signals = Signals.of(c.tags)
    rule = pick_rule(item, config, signals)
    queue = rule.queue if rule else config.fallback_queue
    sla = sla_for(config, item.message.channel_kind, c.urgency)
    start = sla_start(item.message.created_at, now)
    deadline = calendar.add(start, sla)
    # the routing rule, a four-eyes tag, or the classifier's own ``review_required`` (a review rule fired)
    four_eyes = (
        bool(rule and rule.four_eyes)
        or bool(set(c.tags) & set(config.four_eyes.tags_any))
        or c.review_required
    )
    routing = Routing(
        queue=queue,
        priority=priority_at(
            calendar, now, deadline, sla, c.urgency, signals.sentiment, signals.vip
        ),
        sla_deadline=deadline,
        routed_at=now,
        policy=config.sla.policy,
        rule=rule.id if rule else FALLBACK_RULE,
        four_eyes=four_eyes,
        sla_started_at=start,
        ingestion_delay_seconds=(now - start).total_seconds(),
    )
    skill, minimum = requirement(rule, config.queue(queue))
    return Placement(
        routing=routing,
        rule=rule.id if rule else FALLBACK_RULE,
        skill=skill,
        min_proficiency=minimum,
        signals=signals,
        sla_business=sla,
    )


def priority(
    left: timedelta, total: timedelta, urgency: Urgency | str, sentiment: str | None, vip: bool
) -> int:
    """0..100: urgency, negative sentiment and VIP set the base; the share of the SLA already
    used adds up to 30, and a breached SLA 10 more — so priority grows as the deadline nears."""
    score: float = (
        _URGENCY_BASE[Urgency(urgency)]
        + (10 if sentiment == "negative" else 0)
        + (15 if vip else 0)
    )
    used = 1.0 if total <= timedelta(0) else 1.0 - max(left, timedelta(0)) / total
    score += 30 * min(max(used, 0.0), 1.0) + (10 if left <= timedelta(0) else 0)
    return min(100, round(score))


def priority_at(
    calendar: BusinessCalendar,
    now: datetime,
    deadline: datetime,
    total: timedelta,
    urgency: str,
    sentiment: str | None,
    vip: bool,
) -> int:
    """Priority recomputed at ``now``: business time left until ``deadline`` on ``calendar``."""
    left = calendar.between(now, deadline) if deadline > now else timedelta(0)
    return priority(left, total, urgency, sentiment, vip)
