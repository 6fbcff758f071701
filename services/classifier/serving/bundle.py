"""Everything ``classify`` needs, loaded once at start-up: spam model, rules (live and
shadow), author lists, detector, and the task models in service (``load_task_models``: the
``reply_needed``/``relevance``/``contact_reason``/``sentiment`` artifacts ``models/active.json``
points at, or ``CLASSIFIER_TASK_MODELS`` names; none by default).

``load_models`` does the I/O (files, model deserialisation, detector build: about a second
and 250 MB resident) and raises on anything missing or invalid, so a bad deploy fails at
start-up instead of mis-classifying. ``Models`` itself is immutable and shared read-only.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from services.classifier.rules import RuleSet, load_dir
from services.classifier.rules.taxonomy import Taxonomy
from services.classifier.rules.taxonomy import load as load_taxonomy
from services.classifier.serving import registry
from services.classifier.serving.model import NAME, SpamModel
from services.classifier.serving.tasks import TaskModel, load_task_model
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.authors import AuthorLists, load_lists
from services.classifier.signals.language import LanguageDetector
from shared.logging import get_logger

log = get_logger(__name__)

# Task models the stage serves, in the order they are loaded and reported.
TASKS = ("reply_needed", "relevance", "contact_reason", "sentiment")
# Task models that ship with the product: served when ``active.json`` names none for the task
# (a promoted retrain replaces them) and their card is in the models directory.
SHIPPED_TASKS = {"reply_needed": "reply-needed-v1"}
DEFAULT_TASK_THRESHOLDS = {
    "reply_needed": 0.8,
    "relevance": 0.8,
    "contact_reason": 0.5,
    "sentiment": 0.5,
}
# Labels of the binary reply-needed / relevance models: which one means "answer it".
REPLY_LABELS = frozenset({"reply", "relevant", "true", "1", "yes"})
NOISE_LABELS = frozenset({"noise", "irrelevant", "false", "0", "no"})


class TaskModelError(ValueError):
    """A configured task model cannot be served (unknown task, duplicate, unusable labels)."""


@dataclass(frozen=True)
class ServedTask:
    """A task model in service: what it decides, the probability it needs to act, where it came from."""

    task: str  # one of TASKS
    model: TaskModel
    threshold: float
    source: str  # "active.json" or the CLASSIFIER_TASK_MODELS entry
    reply_label: str | None = (
        None  # binary tasks (reply_needed, relevance): the label meaning "reply"
    )
    noise_label: str | None = None  # … and the one meaning "no reply needed"


@dataclass(frozen=True)
class Models:
    spam: SpamModel
    rules: Mapping[str, RuleSet]  # by language
    detector: LanguageDetector
    spam_threshold: float  # public comments
    authors: AuthorLists = field(default_factory=AuthorLists.empty)
    large_account_followers: int = 100_000
    shadow_rules: Mapping[str, RuleSet] | None = None  # evaluated beside, never applied
    tone: TaskModel | None = (
        None  # offensive-tone model (e.g. offense-de-v1), for its languages only
    )
    tone_languages: tuple[str, ...] = ()
    tone_threshold: float = 0.8
    tasks: tuple[ServedTask, ...] = ()  # task models in service (none by default)
    taxonomy: Taxonomy = field(default_factory=Taxonomy.open)  # which tags are contact reasons
    spam_threshold_addressed: float = (
        0.9  # mentions, direct messages, reviews (written to the brand)
    )
    spam_languages: tuple[str, ...] = ("en",)  # what the spam model was trained on
    spam_threshold_foreign: float = 0.9  # the least threshold in any other language

    def task(self, name: str) -> ServedTask | None:
        """The served model of task ``name``, or ``None``."""
        return next((t for t in self.tasks if t.task == name), None)

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
        for model in (self.spam, self.tone, *(t.model for t in self.tasks)):
            if model is not None:
                model._fast.clear_cache()

    def describe(self) -> dict:
        """Versions of what is loaded, for ``GET /v1/models`` and start-up logs."""
        card = self.spam.card
        return {
            "spam": {
                "name": card.name,
                "version": card.version,
                "trained_at": card.trained_at,
                "training_data_sha256": card.training_data_sha256,
                "threshold": self.spam_threshold,
                "threshold_addressed": self.spam_threshold_addressed,
                "evaluation": card.evaluation.get("overall", {}),
            },
            "rules": {
                lang: {"version": rs.version, "rules": len(rs.rules)}
                for lang, rs in sorted(self.rules.items())
            },
            "shadow_rules": {
                lang: {"version": rs.version, "rules": len(rs.rules)}
                for lang, rs in sorted((self.shadow_rules or {}).items())
            },
            "tone": (
                {
                    "name": self.tone.card.name,
                    "version": self.tone.card.version,
                    "languages": list(self.tone_languages),
                    "threshold": self.tone_threshold,
                }
                if self.tone is not None
                else None
            ),
            "taxonomy": {
                "version": self.taxonomy.version,
                "declared": self.taxonomy.declared,
                "contact_reasons": len(self.taxonomy.contact_reasons),
            },
            "tasks": {
                t.task: {
                    "name": t.model.card.name,
                    "version": t.model.card.version,
                    "threshold": t.threshold,
                    "labels_outside_taxonomy": sorted(
                        label
                        for label in t.model.classes
                        if t.task == "contact_reason"
                        and self.taxonomy.declared
                        and not self.taxonomy.is_reason(label)
                    ),
                    "labels": list(t.model.classes),
                    "source": t.source,
                    "training_data_sha256": t.model.card.training_data_sha256,
                }
                for t in self.tasks
            },
            "authors": {
                "blocked": len(self.authors.blocked.entries),
                "vip": len(self.authors.vip.entries),
            },
            "large_account_followers": self.large_account_followers,
            "language_detector": {
                "library": "lingua",
                "languages": list(self.detector.languages),
                "short_text_accuracy": self.detector.short_accuracy,
            },
        }


def load_models(settings: ClassifierSettings, detector: LanguageDetector | None = None) -> Models:
    """Load artifacts named by ``settings`` (the spam model ``registry.active`` names: the
    last promoted by ``retrain``, else ``spam-v1``; the task models of ``load_task_models``).
    ``detector``: an already built language detector to reuse when it serves the settings'
    languages and mode (a reload then needs no second copy of lingua's models).
    Raises ``FileNotFoundError``, ``UntrustedArtifact``, ``RuleFileError``, ``AuthorListError``,
    ``TaskModelError``, ``RegistryError`` or ``pydantic.ValidationError``."""
    shadow = settings.shadow_rules_dir
    # Order matters for the peak: each skops load briefly needs about twice its model's size,
    # so the artifacts load first (heap returned after each) and lingua's ~240 MB of n-gram
    # models last; loading lingua first put the peak at ~770 MB, over the 600 MB limit.
    spam = SpamModel.load(settings.models_dir, registry.active(settings.models_dir, "spam", NAME))
    _release_heap()
    tone = (
        load_task_model(settings.models_dir, settings.tone_model) if settings.tone_model else None
    )
    _release_heap()
    taxonomy = load_taxonomy(settings.rules_dir)
    served = load_task_models(settings, taxonomy)
    models = Models(
        spam=spam,
        rules=MappingProxyType(load_dir(settings.rules_dir, taxonomy)),
        detector=detector
        if detector is not None
        and (detector.languages, detector.short_accuracy)
        == (tuple(settings.languages), settings.language_short_accuracy)
        else LanguageDetector(tuple(settings.languages), settings.language_short_accuracy),
        spam_threshold=settings.spam_threshold,
        spam_threshold_addressed=settings.spam_threshold_addressed,
        spam_languages=tuple(spam.card.model_extra.get("languages") or settings.spam_languages),
        spam_threshold_foreign=settings.spam_threshold_foreign,
        authors=load_lists(settings.authors_dir),
        large_account_followers=settings.large_account_followers,
        shadow_rules=MappingProxyType(load_dir(shadow, taxonomy)) if shadow is not None else None,
        tone=tone,
        tone_languages=tuple(settings.tone_languages),
        tone_threshold=settings.tone_threshold,
        tasks=served,
        taxonomy=taxonomy,
    )
    _release_heap()
    return models


def load_task_models(
    settings: ClassifierSettings, taxonomy: Taxonomy | None = None
) -> tuple[ServedTask, ...]:
    """The task models in service, in ``TASKS`` order: each ``CLASSIFIER_TASK_MODELS`` entry (its
    card's ``task`` says which task), and for every other task the artifact ``active.json``
    names (promoted by ``retrain``). Loaded like every artifact (card sha256, skops allow-list,
    nothing unpickled). Nothing configured → ``()``. Raises ``TaskModelError``,
    ``FileNotFoundError``, ``UntrustedArtifact``, ``RegistryError`` or ``pydantic.ValidationError``."""
    thresholds = _thresholds(settings.task_thresholds)
    chosen: dict[str, tuple[TaskModel, str]] = {}
    for entry in settings.task_models:
        directory, name = _locate(entry, settings.models_dir)
        task = _card_task(directory, name)  # checked before the (large) artifact is read
        if task not in TASKS:
            raise TaskModelError(
                f"CLASSIFIER_TASK_MODELS: {entry}: task {task!r} is not one the stage serves "
                f"({', '.join(TASKS)}); train it with --task one of these"
            )
        if task in chosen:
            raise TaskModelError(
                f"CLASSIFIER_TASK_MODELS: {entry}: a second {task} model "
                f"(already {chosen[task][1]})"
            )
        chosen[task] = (load_task_model(directory, name), entry)
        _release_heap()
    for task in TASKS:
        shipped = SHIPPED_TASKS.get(task) if settings.shipped_task_models else None
        if shipped is not None and not (settings.models_dir / f"{shipped}.json").is_file():
            shipped = None
        if task in chosen or (name := registry.active(settings.models_dir, task, shipped)) is None:
            continue
        if (card_task := _card_task(settings.models_dir, name)) not in (None, task):
            raise TaskModelError(
                f"{settings.models_dir / registry.FILE}: {task} points at {name}, a {card_task} model"
            )
        chosen[task] = (load_task_model(settings.models_dir, name), registry.FILE)
        _release_heap()
    if taxonomy is not None and taxonomy.declared and "contact_reason" in chosen:
        model, source = chosen["contact_reason"]
        if unknown := sorted(label for label in model.classes if not taxonomy.is_reason(label)):
            log.warning(
                "classifier.labels_outside_taxonomy",
                model=model.card.name,
                source=source,
                labels=unknown,
            )
    return tuple(_serve(task, *chosen[task], thresholds[task]) for task in TASKS if task in chosen)


def _card_task(directory: Path, name: str) -> str | None:
    """The ``task`` a model card declares (``FileNotFoundError`` when there is no card)."""
    path = directory / f"{name}.json"
    try:
        card = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise TaskModelError(f"{path}: unreadable model card: {exc}") from exc
    return card.get("task") if isinstance(card, dict) else None


def _locate(entry: str, models_dir: Path) -> tuple[Path, str]:
    """``name`` → (models_dir, name); ``dir/name.json`` or ``dir/name.skops`` → (dir, name)."""
    path = Path(entry)
    if path.suffix in (".json", ".skops"):
        return path.parent, path.stem
    if len(path.parts) == 1:
        return models_dir, entry
    raise TaskModelError(
        f"CLASSIFIER_TASK_MODELS: {entry}: give a model name in {models_dir} "
        "or a path to its <name>.json or <name>.skops"
    )


def _thresholds(configured: Mapping[str, float]) -> dict[str, float]:
    if unknown := sorted(set(configured) - set(TASKS)):
        raise TaskModelError(
            f"CLASSIFIER_TASK_THRESHOLDS: unknown task(s) {unknown}; known: {', '.join(TASKS)}"
        )
    if bad := sorted(k for k, v in configured.items() if not 0.0 <= v <= 1.0):
        raise TaskModelError(
            f"CLASSIFIER_TASK_THRESHOLDS: {bad} must be probabilities between 0 and 1"
        )
    return DEFAULT_TASK_THRESHOLDS | dict(configured)


def _serve(task: str, model: TaskModel, source: str, threshold: float) -> ServedTask:
    if task not in ("reply_needed", "relevance"):
        return ServedTask(task, model, threshold, source)
    reply = [c for c in model.classes if c.lower() in REPLY_LABELS]
    noise = [c for c in model.classes if c.lower() in NOISE_LABELS]
    if len(model.classes) != 2 or len(reply) != 1 or len(noise) != 1:
        raise TaskModelError(
            f"{model.card.name}: a {task} model needs two labels, one of {sorted(REPLY_LABELS)} "
            f"and one of {sorted(NOISE_LABELS)}; it has {list(model.classes)}"
        )
    return ServedTask(task, model, threshold, source, reply[0], noise[0])


def _release_heap() -> None:
    """Hand the transient heap of model loading back to the OS (glibc keeps about 100 MB
    of it otherwise, which matters against a 600 MB memory limit). No-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
