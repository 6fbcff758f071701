"""The classifier's state around the pure stage: campaigns and volume spikes.

``ClassifierRuntime.process(messages)`` asks the campaign detector which near-duplicate campaign
(from different authors) each message of a batch belongs to, classifies the batch with those
campaigns as facts of the decision (``stage.classify_batch``; ``decision`` tags them and drops
the noise among them once a campaign has more than ``campaign_drop_authors`` authors), and counts
each kept message's contact-reason tags (rule tags, and ``contact_reason:<label>`` from a served
contact-reason model, both as ``tag:<label>``) for the spike detector. It returns one ``Outcome``
per message.
CPU-bound and blocking; not thread-safe: call it from one worker thread at a time (the
runner hands over one batch at a time).

``from_settings`` gives the service detectors whose state is in the classifier's database
(``CLASSIFIER_SIGNALS_STORE=database``, the default: every replica sees the whole account,
one transaction per detector and batch) or in memory (``memory``: one process; the benches
use these); see docs/classifier-runtime.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from services.classifier.decision import Campaign
from services.classifier.rules.taxonomy import MODEL_REASON, Taxonomy
from services.classifier.serving.bundle import Models
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.flood import CampaignDetector
from services.classifier.signals.spike import Observation, SpikeDetector
from services.classifier.stage import classify_batch, shadow_changes
from services.classifier.stores import sql
from services.classifier.stores.campaigns import SharedCampaignDetector
from services.classifier.stores.spikes import SharedSpikeDetector
from shared.events import (
    CanonicalMessage,
    Classification,
    Decision,
    IssueSpike,
)

# Only contact reasons (``Models.taxonomy``) are spike keys; one from the contact-reason model
# (``MODEL_REASON``) counts under the same key as a rule's tag. The ``reason:<id>`` tag repeats one
# of these and is not counted again.


@dataclass(frozen=True)
class Outcome:
    classification: Classification
    spikes: tuple[IssueSpike, ...] = ()
    shadow_changes: dict | None = None
    shadow: Classification | None = None


@dataclass
class ClassifierRuntime:
    models: Models
    campaigns: CampaignDetector | SharedCampaignDetector = field(default_factory=CampaignDetector)
    spikes: SpikeDetector | SharedSpikeDetector = field(default_factory=SpikeDetector)
    campaign_drop_authors: int = 5
    engine: Engine | None = None  # the shared detectors' database; ``close`` disposes of it

    @classmethod
    def from_settings(cls, models: Models, settings: ClassifierSettings) -> ClassifierRuntime:
        """Detectors as ``settings`` say: in the database at ``database_url`` or in memory."""
        campaign_window = timedelta(seconds=settings.campaign_window_s)
        spike_window = timedelta(seconds=settings.spike_window_s)
        spike_options = dict(
            factor=settings.spike_factor,
            min_count=settings.spike_min_count,
            warmup_windows=settings.spike_warmup_windows,
        )
        if settings.signals_store == "memory":
            return cls(
                models=models,
                campaigns=CampaignDetector(campaign_window, settings.campaign_similarity),
                spikes=SpikeDetector(spike_window, **spike_options),
                campaign_drop_authors=settings.campaign_drop_authors,
            )
        engine = sql.engine(settings.database_url)
        return cls(
            models=models,
            engine=engine,
            campaigns=SharedCampaignDetector(
                engine,
                campaign_window,
                settings.campaign_similarity,
                prune_every_s=settings.signals_prune_every_s,
            ),
            spikes=SharedSpikeDetector(
                engine, spike_window, prune_every_s=settings.signals_prune_every_s, **spike_options
            ),
            campaign_drop_authors=settings.campaign_drop_authors,
        )

    def process(self, messages: Sequence[CanonicalMessage]) -> list[Outcome]:
        """One ``Outcome`` per message, in order. Blocks (CPU, and the database with shared
        detectors: their errors propagate, and the runner retries the batch)."""
        models = (
            self.models
        )  # one model set per batch (a reload swaps the attribute between batches)
        campaigns = [
            None if match is None else Campaign(match, self.campaign_drop_authors)
            for match in self.campaigns.observe(messages)
        ]
        verdicts = classify_batch(messages, models, campaigns=campaigns)
        results = [v.classification for v in verdicts]
        kept = [i for i, result in enumerate(results) if result.decision != Decision.DROP]
        counted = self.spikes.observe_batch(
            [
                Observation(
                    messages[i].account_id,
                    spike_keys(results[i], models.taxonomy),
                    messages[i].created_at,
                    messages[i].message_key,
                )
                for i in kept
            ]
        )
        spikes: list[tuple[IssueSpike, ...]] = [()] * len(messages)
        for i, raised in zip(kept, counted, strict=True):
            spikes[i] = tuple(raised)
        return [
            Outcome(r, s, shadow_changes(v), v.shadow)
            for r, s, v in zip(results, spikes, verdicts, strict=True)
        ]

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def spike_keys(result: Classification, taxonomy: Taxonomy) -> tuple[str, ...]:
    """The contact-reason keys a kept classification counts under (``tag:<reason>``): its
    rule tags that are contact reasons, and a contact-reason model's label."""
    return tuple(
        dict.fromkeys(
            f"tag:{t.partition(':')[2] if t.startswith(MODEL_REASON) else t}"
            for t in result.tags
            if taxonomy.is_reason(t) or (t.startswith(MODEL_REASON) and len(t) > len(MODEL_REASON))
        )
    )
