"""Everything ``classify`` needs, loaded once at start-up: spam model, rules (live and
shadow), author lists, detector.

``load_models`` does the I/O (files, model deserialisation, detector build: about a second
and 250 MB resident) and raises on anything missing or invalid, so a bad deploy fails at
start-up instead of mis-classifying. ``Models`` itself is immutable and shared read-only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from services.classifier.authors import AuthorLists, load_lists
from services.classifier.language import LanguageDetector
from services.classifier import registry
from services.classifier.model import NAME, SpamModel
from services.classifier.rules import RuleSet, load_dir
from services.classifier.tasks import TaskModel, load_task_model
from shared.settings import ClassifierSettings


@dataclass(frozen=True)
class Models:
    spam: SpamModel
    rules: Mapping[str, RuleSet]  # by language
    detector: LanguageDetector
    spam_threshold: float
    authors: AuthorLists = field(default_factory=AuthorLists.empty)
    large_account_followers: int = 100_000
    shadow_rules: Mapping[str, RuleSet] | None = None  # evaluated beside, never applied
    tone: TaskModel | None = None  # offensive-tone model (e.g. offense-de-v1), for its languages only
    tone_languages: tuple[str, ...] = ()
    tone_threshold: float = 0.8

    def rules_for(self, language: str, shadow: bool = False) -> tuple[RuleSet, ...]:
        """The language's own rule set; every rule set when the language has none
        (undetermined or unserved: better to over-match than to miss a legal threat)."""
        rules = self.shadow_rules if shadow and self.shadow_rules is not None else self.rules
        if language in rules:
            return (rules[language],)
        return tuple(rules[key] for key in sorted(rules))

    def clear_caches(self) -> None:
        """Forget the per-word features and short-text languages seen so far (benchmarks)."""
        self.detector.clear_cache()
        for model in (self.spam, self.tone):
            if model is not None:
                model._fast.clear_cache()

    def describe(self) -> dict:
        """Versions of what is loaded, for ``GET /v1/models`` and start-up logs."""
        card = self.spam.card
        return {
            "spam": {"name": card.name, "version": card.version, "trained_at": card.trained_at,
                     "training_data_sha256": card.training_data_sha256, "threshold": self.spam_threshold,
                     "evaluation": card.evaluation.get("overall", {})},
            "rules": {lang: {"version": rs.version, "rules": len(rs.rules)} for lang, rs in sorted(self.rules.items())},
            "shadow_rules": {lang: {"version": rs.version, "rules": len(rs.rules)}
                             for lang, rs in sorted((self.shadow_rules or {}).items())},
            "tone": ({"name": self.tone.card.name, "version": self.tone.card.version, "languages": list(self.tone_languages),
                      "threshold": self.tone_threshold} if self.tone is not None else None),
            "authors": {"blocked": len(self.authors.blocked.entries), "vip": len(self.authors.vip.entries)},
            "large_account_followers": self.large_account_followers,
            "language_detector": {"library": "lingua", "languages": list(self.detector.languages),
                                  "short_text_accuracy": self.detector.short_accuracy},
        }


def load_models(settings: ClassifierSettings) -> Models:
    """Load artifacts named by ``settings`` (the spam model ``registry.active`` names: the
    last promoted by ``retrain``, else ``spam-v1``). Raises ``FileNotFoundError``,
    ``UntrustedArtifact``, ``RuleFileError``, ``AuthorListError`` or ``pydantic.ValidationError``."""
    shadow = settings.shadow_rules_dir
    # Order matters for the peak: each skops load briefly needs about twice its model's size,
    # so the artifacts load first (heap returned after each) and lingua's ~240 MB of n-gram
    # models last; loading lingua first put the peak at ~770 MB, over the 600 MB limit.
    spam = SpamModel.load(settings.models_dir, registry.active(settings.models_dir, "spam", NAME))
    _release_heap()
    tone = load_task_model(settings.models_dir, settings.tone_model) if settings.tone_model else None
    _release_heap()
    models = Models(
        spam=spam,
        rules=MappingProxyType(load_dir(settings.rules_dir)),
        detector=LanguageDetector(tuple(settings.languages), settings.language_short_accuracy),
        spam_threshold=settings.spam_threshold,
        authors=load_lists(settings.authors_dir),
        large_account_followers=settings.large_account_followers,
        shadow_rules=MappingProxyType(load_dir(shadow)) if shadow is not None else None,
        tone=tone,
        tone_languages=tuple(settings.tone_languages),
        tone_threshold=settings.tone_threshold,
    )
    _release_heap()
    return models


def _release_heap() -> None:
    """Hand the transient heap of model loading back to the OS (glibc keeps about 100 MB
    of it otherwise, which matters against a 600 MB memory limit). No-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
