"""Everything ``classify`` needs, loaded once at start-up: spam model, rules, detector.

``load_models`` does the I/O (files, model deserialisation, detector build: about a second
and 250 MB resident) and raises on anything missing or invalid, so a bad deploy fails at
start-up instead of mis-classifying. ``Models`` itself is immutable and shared read-only.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from services.classifier.language import LanguageDetector
from services.classifier.model import SpamModel
from services.classifier.rules import RuleSet, load_dir
from shared.settings import ClassifierSettings


@dataclass(frozen=True)
class Models:
    spam: SpamModel
    rules: Mapping[str, RuleSet]  # by language
    detector: LanguageDetector
    spam_threshold: float

    def rules_for(self, language: str) -> tuple[RuleSet, ...]:
        """The language's own rule set; every rule set when the language has none
        (undetermined or unserved: better to over-match than to miss a legal threat)."""
        if language in self.rules:
            return (self.rules[language],)
        return tuple(self.rules[key] for key in sorted(self.rules))

    def describe(self) -> dict:
        """Versions of what is loaded, for ``GET /v1/models`` and start-up logs."""
        card = self.spam.card
        return {
            "spam": {"name": card.name, "version": card.version, "trained_at": card.trained_at,
                     "training_data_sha256": card.training_data_sha256, "threshold": self.spam_threshold,
                     "evaluation": card.evaluation.get("overall", {})},
            "rules": {lang: {"version": rs.version, "rules": len(rs.rules)} for lang, rs in sorted(self.rules.items())},
            "language_detector": {"library": "lingua", "languages": list(self.detector.languages)},
        }


def load_models(settings: ClassifierSettings) -> Models:
    """Load artifacts named by ``settings``. Raises ``FileNotFoundError``,
    ``UntrustedArtifact``, ``RuleFileError`` or ``pydantic.ValidationError``."""
    models = Models(
        spam=SpamModel.load(settings.models_dir),
        rules=MappingProxyType(load_dir(settings.rules_dir)),
        detector=LanguageDetector(),
        spam_threshold=settings.spam_threshold,
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
