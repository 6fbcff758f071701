"""Where a reply-needed item goes, how urgent it is and when it is due. Pure: no I/O.

Walking-skeleton policy: one queue per supported language (``support-<lang>``, else
``support-default``), priority from urgency and channel, and an SLA deadline from a fixed
per-channel policy counted in calendar time (business time arrives with the routing issue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.events import ChannelKind, Classified, Decision, Routing, Urgency

_URGENCY_PRIORITY = {Urgency.HIGH: 90, Urgency.NORMAL: 50, Urgency.LOW: 20}
_CHANNEL_BONUS = {ChannelKind.DIRECT_MESSAGE: 10, ChannelKind.MENTION: 5}


@dataclass(frozen=True)
class RoutingPolicy:
    languages: tuple[str, ...] = ("en", "de")
    sla_minutes: dict[str, int] = field(default_factory=dict)
    urgent_sla_minutes: int = 15
    default_sla_minutes: int = 60
    policy_id: str = "fixed-v1"

    def queue_for(self, language: str) -> str:
        return f"support-{language}" if language in self.languages else "support-default"

    def sla_for(self, channel: ChannelKind, urgency: Urgency) -> timedelta:
        minutes = self.sla_minutes.get(channel.value, self.default_sla_minutes)
        if urgency is Urgency.HIGH:
            minutes = min(minutes, self.urgent_sla_minutes)
        return timedelta(minutes=minutes)


def route(item: Classified, policy: RoutingPolicy, now: datetime) -> Routing | None:
    """The routing of ``item`` at ``now``, or ``None`` when it needs no reply (drop or tag)."""
    classification = item.classification
    if classification.decision is not Decision.REPLY:
        return None
    channel = item.message.channel_kind
    priority = _URGENCY_PRIORITY[classification.urgency] + _CHANNEL_BONUS.get(channel, 0)
    return Routing(
        queue=policy.queue_for(classification.language),
        priority=min(priority, 100),
        sla_deadline=now + policy.sla_for(channel, classification.urgency),
        routed_at=now,
        policy=policy.policy_id,
    )
