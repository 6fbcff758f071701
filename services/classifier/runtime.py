"""The classifier's per-process state around the pure stage: campaigns and volume spikes.

``ClassifierRuntime.process(messages)`` classifies a batch (``stage.classify_batch``), then,
in message order, lets the campaign detector tag near-duplicates from different authors
(and drop those that are noise once the campaign has more than ``campaign_drop_authors``), and counts each kept message's
contact-reason tags (rule tags, and ``contact_reason:<label>`` from a served contact-reason
model, both as ``tag:<label>``) for the spike detector. It returns one ``Outcome`` per message.
CPU-bound and blocking; not thread-safe: call it from one worker thread at a time (the
runner hands over one batch at a time). The state is in memory only (see the docs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from services.classifier.bundle import Models
from services.classifier.flood import CampaignDetector, CampaignMatch
from services.classifier.spike import SpikeDetector
from services.classifier.stage import NOT_REASONS, Verdict, classify_batch, shadow_changes
from shared.events import (
    CanonicalMessage,
    Classification,
    Decision,
    IssueSpike,
    Urgency,
)
from shared.settings import ClassifierSettings

# Tags that say how a message was judged rather than what it is about (``stage.NOT_REASONS``)
# are never spike keys.
# A contact reason from the contact-reason model counts under the same key as a rule's tag.
MODEL_REASON = "contact_reason:"


@dataclass(frozen=True)
class Outcome:
    classification: Classification
    spikes: tuple[IssueSpike, ...] = ()
    shadow_changes: dict | None = None
    shadow: Classification | None = None


@dataclass
class ClassifierRuntime:
    models: Models
    campaigns: CampaignDetector = field(default_factory=CampaignDetector)
    spikes: SpikeDetector = field(default_factory=SpikeDetector)
    campaign_drop_authors: int = 5

    @classmethod
    def from_settings(cls, models: Models, settings: ClassifierSettings) -> ClassifierRuntime:
        return cls(
            models=models,
            campaigns=CampaignDetector(timedelta(seconds=settings.campaign_window_s), settings.campaign_similarity),
            spikes=SpikeDetector(timedelta(seconds=settings.spike_window_s), factor=settings.spike_factor,
                                 min_count=settings.spike_min_count, warmup_windows=settings.spike_warmup_windows),
            campaign_drop_authors=settings.campaign_drop_authors,
        )

    def process(self, messages: Sequence[CanonicalMessage]) -> list[Outcome]:
        """One ``Outcome`` per message, in order. Blocks (CPU)."""
        verdicts = classify_batch(messages, self.models)
        matches = self.campaigns.observe(messages)
        return [self._finish(m, v, c) for m, v, c in zip(messages, verdicts, matches, strict=True)]

    def _finish(self, message: CanonicalMessage, verdict: Verdict, match: CampaignMatch | None) -> Outcome:
        result = verdict.classification
        if match is not None:
            result = with_campaign(result, match, self.campaign_drop_authors)
        spikes: tuple[IssueSpike, ...] = ()
        if result.decision != Decision.DROP:
            keys = tuple(dict.fromkeys(
                f"tag:{t.partition(':')[2] if t.startswith(MODEL_REASON) else t}" for t in result.tags
                if (t not in NOT_REASONS and ":" not in t) or (t.startswith(MODEL_REASON) and len(t) > len(MODEL_REASON))))
            spikes = tuple(self.spikes.observe(message.account_id, keys, message.created_at, message.message_key))
        return Outcome(result, spikes, shadow_changes(verdict), verdict.shadow)


def with_campaign(result: Classification, match: CampaignMatch, drop_authors: int) -> Classification:
    """``result`` tagged ``campaign:<id>`` with its evidence; dropped when the campaign has
    more than ``drop_authors`` distinct authors *and* the message would otherwise be noise.

    A message that asks for a reply (a reply/urgent/review rule, a direct message, a VIP, …)
    is never dropped for being similar to others: many customers writing "my order never
    arrived" at once is a widespread issue (the spike detector's job), not spam."""
    evidence = (f"flood.campaign: near-duplicate (similarity {match.similarity:.2f}) in campaign {match.campaign_id}: "
                f"{match.messages} messages from {match.authors} authors; dropped above {drop_authors}")
    update: dict = {
        "tags": tuple(dict.fromkeys((*result.tags, f"campaign:{match.campaign_id}"))),
        "explanation": result.explanation.model_copy(update={
            "rule_ids": (*result.explanation.rule_ids, "flood.campaign"),
            "evidence": (*result.explanation.evidence, evidence)}),
    }
    if match.authors > drop_authors and result.decision == Decision.TAG:
        update |= {
            "decision": Decision.DROP, "urgency": Urgency.LOW, "review_required": False,
            "tags": ("spam", *(t for t in update["tags"] if t != "noise")),
            "reason": f"Dropped as a campaign: near-duplicates from {match.authors} authors "
                      f"(more than {drop_authors}) within the window."[:512],
        }
    return result.model_copy(update=update)
