"""Retrain from corrections and promote only what is not worse: ``python -m services.classifier.cli retrain``.

For the **spam** model the candidate is the shipped recipe (``train.build_pipeline``) fitted on
the shipped training data (YouTube + SMS spam, deduplicated, ``corpus.load``) plus the stored
corrections' spam labels (a correction overrides a shipped row with the same normalised text).
For a **task** (``reply_needed``, ``contact_reason``, ``sentiment``) with enough corrected
labels, the candidate is ``recipes.fit_ours`` on them — and, for ``reply_needed``, on the shipped model's
training data too (``replytrain.load``: the corrections are added to it, a correction overriding a shipped
row with the same text), compared with the live model: the promoted one, else the shipped
``reply-needed-v1``. Corrections on drops and noise ("needed a reply", "not spam", from the router's
triage review) are the most valuable ones: they teach exactly what the stage got wrong.

Corrections are split once, deterministically, by a hash of their ``message_key``: about
``holdout`` of them are *never* trained on, by any retrain, and judge every candidate. A
candidate is compared with the current model on

1. **the held evaluation sets** (spam: the YouTube per-video and SMS protocols of ``make eval``,
   read from ``../shared/datasets``; skipped with a message when absent): on every fold, the
   shipped recipe fitted on the fold's training part versus the same plus the training
   corrections (corrections whose text is in the fold's test part are left out), scored with
   the protocol's metric (MCC) and averaged over folds. The current artifact itself was fitted
   on all of those rows, so scoring it on a test fold would flatter it; comparing the two
   recipes on the published splits answers the real question — do the corrections make the
   model worse on the public data?
2. **the held-out corrections**: the live artifact (``registry.active``) against the candidate
   artifact, accuracy, MCC (spam) / macro-F1 (tasks). A task without a live model is compared
   with always answering its most frequent training label.

It is promoted only if no figure is worse than the current one by more than ``tolerance``:
the artifact is written as ``<family>-r<N>`` (version ``<major>.<N>.0+<fingerprint[:8]>``, the
training-data fingerprint and every figure on its card), then ``registry.promote`` switches
the pointer atomically. Otherwise the current model stays and the report says which figure
was worse. Deterministic (fixed seeds).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from services.classifier.feedback import Example, labels_of
from services.classifier.serving import registry, tasks
from services.classifier.serving.model import NAME, SpamModel, fingerprint, normalise
from services.classifier.training import datasets as datasets_
from services.classifier.training import recipes
from services.classifier.training.protocols import macro_f_hm

HOLDOUT = 0.2
TOLERANCE = 0.005
TASK_FAMILIES = ("reply_needed", "contact_reason", "sentiment")
MIN_PER_CLASS = 5
Progress = Callable[[str], None]
Recipe = Callable[[], object]


@dataclass(frozen=True)
class Figure:
    set: str
    metric: str
    current: float
    candidate: float
    rows: int

    def worse(self, tolerance: float) -> bool:
        return self.candidate < self.current - tolerance


@dataclass
class Outcome:
    family: str
    promoted: bool
    reason: str
    current: str | None = None
    name: str | None = None
    version: str | None = None
    corrections: dict[str, int] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def held_out(message_key: str, holdout: float = HOLDOUT) -> bool:
    """Whether a correction belongs to the held-out slice: stable across runs and retrains."""
    return int(hashlib.sha256(message_key.encode()).hexdigest()[:8], 16) % 10_000 < holdout * 10_000


def labelled(examples: Sequence[Example], family: str, holdout: float) -> tuple[list, list]:
    """(train, held) lists of (normalised text, label) for ``family``."""
    train, held = [], []
    for example in examples:
        label = labels_of(example).get(family)
        text = normalise(example.text)
        if label is None or not text:
            continue
        (held if held_out(example.message_key, holdout) else train).append((text, label))
    return train, held


def settle(outcome: Outcome, family: str, tolerance: float, dry_run: bool, progress) -> bool:
    """Decide, say so, and whether to write the candidate (promoted and not a dry run; a dry run
    reports ``promoted`` False)."""
    decide(outcome, tolerance)
    progress(
        f"{family}: {'promote' if outcome.promoted else 'keep the current model'}: {outcome.reason}"
    )
    outcome.promoted = outcome.promoted and not dry_run
    return outcome.promoted


def decide(outcome: Outcome, tolerance: float) -> Outcome:
    """Promote unless a figure is worse by more than ``tolerance`` (or there is none)."""
    if not outcome.figures:
        outcome.promoted, outcome.reason = (
            False,
            "no figure to compare on (no held-out corrections, no evaluation set)",
        )
        return outcome
    worse = [f for f in outcome.figures if f.worse(tolerance)]
    if worse:
        outcome.promoted = False
        outcome.reason = (
            "worse than the current model on "
            + "; ".join(f"{f.set} {f.metric} {f.candidate:.4f} < {f.current:.4f}" for f in worse)
            + f" (tolerance {tolerance})"
        )
    else:
        outcome.promoted, outcome.reason = (
            True,
            f"not worse on any of {len(outcome.figures)} figures (tolerance {tolerance})",
        )
    return outcome


def next_name(models_dir: Path, family: str) -> tuple[str, int]:
    """``<family>-r<N>`` with N one above any existing revision."""
    pattern = re.compile(rf"^{re.escape(family)}-r(\d+)\.json$")
    taken = [
        int(m.group(1))
        for p in models_dir.glob(f"{family}-r*.json")
        if (m := pattern.match(p.name))
    ]
    revision = max(taken, default=0) + 1
    return f"{family}-r{revision}", revision


def _major(version: str | None) -> str:
    found = re.match(r"^(\d+)\.", version or "")
    return found.group(1) if found else "1"


# -- spam ------------------------------------------------------------------------------------
def public_figures(
    protocols: Sequence[datasets_.Protocol],
    recipe: Recipe,
    extra: list[tuple[str, str]],
    progress: Progress,
) -> list[Figure]:
    """Per protocol: the recipe on each fold's training part, with and without ``extra``
    (text, label) rows, scored by MCC on the fold's test part, averaged over folds."""
    figures = []
    for protocol in protocols:
        current, candidate = [], []
        for number, (train, test) in enumerate(protocol.folds, 1):
            progress(f"  {protocol.dataset}: fold {number}/{len(protocol.folds)}")
            x = [protocol.texts[i] for i in train]
            y = [protocol.labels[i] for i in train]
            test_texts = [protocol.texts[i] for i in test]
            truth = [protocol.labels[i] for i in test]
            unseen = set(test_texts)
            added = [(t, label) for t, label in extra if t not in unseen]
            base = recipe().fit(x, y)
            more = recipe().fit(x + [t for t, _ in added], y + [label for _, label in added])
            current.append(matthews_corrcoef(truth, base.predict(test_texts)))
            candidate.append(matthews_corrcoef(truth, more.predict(test_texts)))
        figures.append(
            Figure(
                protocol.dataset,
                "mcc",
                round(float(np.mean(current)), 4),
                round(float(np.mean(candidate)), 4),
                sum(len(t) for _, t in protocol.folds),
            )
        )
    return figures


def held_figures(
    truth: Sequence[str],
    current: Sequence[str],
    candidate: Sequence[str],
    metrics: Sequence[str],
    name: str = "held-out corrections",
) -> list[Figure]:
    scorers = {
        "accuracy": accuracy_score,
        "mcc": matthews_corrcoef,
        "macro_f1": lambda a, b: f1_score(a, b, average="macro", zero_division=0),
    }
    if len(set(truth)) < 2:
        metrics = ["accuracy"]  # MCC and macro-F1 say nothing on a one-class slice
    return [
        Figure(
            name,
            m,
            round(float(scorers[m](truth, current)), 4),
            round(float(scorers[m](truth, candidate)), 4),
            len(truth),
        )
        for m in metrics
    ]


def spam_protocols(datasets: Path, progress: Progress) -> list[datasets_.Protocol]:
    """The spam protocols of ``make eval`` that exist under ``datasets`` (a message for each absent one)."""
    loaders = [
        (f"youtube-spam/{v}", lambda v=v: datasets_.youtube(datasets, v))
        for v in datasets_.YOUTUBE_VIDEOS
    ]
    loaders.append(("sms-spam", lambda: datasets_.sms(datasets)))
    found = []
    for name, load in loaders:
        try:
            found.append(load())
        except (datasets_.DatasetMissing, OSError, StopIteration) as exc:
            progress(f"evaluation set {name} skipped: not found under {datasets} ({exc})")
    return found


def retrain_spam(
    base_texts: Sequence[str],
    base_labels: Sequence[int],
    examples: Sequence[Example],
    *,
    models_dir: Path,
    protocols: Sequence[datasets_.Protocol],
    recipe: Recipe,
    progress: Progress,
    threshold: float = 0.5,
    holdout: float = HOLDOUT,
    tolerance: float = TOLERANCE,
    dry_run: bool = False,
) -> Outcome:
    """Fit, compare and (unless worse, or ``dry_run``) promote a spam model. See the module docstring."""
    current_name = registry.active(models_dir, "spam", NAME)
    train, held = labelled(examples, "spam", holdout)
    outcome = Outcome(
        "spam",
        False,
        "",
        current=current_name,
        corrections={"train": len(train), "held_out": len(held)},
    )
    if not train and not held:
        outcome.reason = "no corrections with a spam label (decision) stored: nothing to learn"
        return outcome
    current = SpamModel.load(models_dir, current_name)
    progress(
        f"spam: current {current.card.name} {current.card.version}; corrections {len(train)} to train on, "
        f"{len(held)} held out"
    )
    rows = dict(
        zip((normalise(t) for t in base_texts), (str(int(y)) for y in base_labels), strict=True)
    )
    rows.pop("", None)
    rows.update(train)  # a correction overrides a shipped row with the same text
    texts, labels = list(rows), [int(y) for y in rows.values()]
    progress(f"spam: fitting the candidate on {len(texts)} rows")
    pipeline = recipe().fit(texts, labels)
    spam_column = int(np.flatnonzero(pipeline.classes_ == 1)[0])
    if held:
        held_texts, truth = [t for t, _ in held], [y for _, y in held]
        now = ["1" if s.probability >= threshold else "0" for s in current.score_batch(held_texts)]
        new = [
            "1" if p >= threshold else "0"
            for p in pipeline.predict_proba(held_texts)[:, spam_column]
        ]
        outcome.figures += held_figures(truth, now, new, ["accuracy", "mcc"])
    else:
        progress("spam: no held-out corrections yet (about 1 in 5 corrections is held out)")
    if protocols:
        progress(
            f"spam: the {len(protocols)} held evaluation sets, recipe with and without the corrections"
        )
        outcome.figures += public_figures(protocols, recipe, [(t, y) for t, y in train], progress)
    if not settle(outcome, "spam", tolerance, dry_run, progress):
        return outcome
    digest = fingerprint(texts, labels)
    name, revision = next_name(models_dir, "spam")
    version = f"{_major(current.card.version)}.{revision}.0+{digest[:8]}"
    card = {
        "task": "spam",
        "version": version,
        "training_data_sha256": digest,
        "rows": {
            "train": len(texts),
            "spam": sum(labels),
            "ham": len(labels) - sum(labels),
            "corrections_train": len(train),
            "corrections_held_out": len(held),
        },
        "evaluation": {
            "overall": _overall(outcome.figures),
            "retrain": [asdict(f) for f in outcome.figures],
            "tolerance": tolerance,
        },
        "parent": {"name": current.card.name, "version": current.card.version},
        "sources": [
            *current.card.model_extra.get("sources", []),
            "helpdesk and router corrections (stored)",
        ],
    }
    return _promote(outcome, pipeline, models_dir, name, version, card, progress)


def _overall(figures: Sequence[Figure]) -> dict:
    return {f"{f.set}:{f.metric}": f.candidate for f in figures}


def _promote(
    outcome: Outcome,
    pipeline,
    models_dir: Path,
    name: str,
    version: str,
    card: dict,
    progress: Progress,
) -> Outcome:
    saved = tasks.save(pipeline, models_dir, name, card)
    registry.promote(models_dir, outcome.family, saved.name, saved.version)
    outcome.name, outcome.version = saved.name, saved.version
    progress(
        f"{outcome.family}: promoted {saved.name} {saved.version} (active.json updated; live on restart)"
    )
    return outcome


# -- task models -----------------------------------------------------------------------------
def retrain_task(
    family: str,
    examples: Sequence[Example],
    *,
    models_dir: Path,
    progress: Progress,
    holdout: float = HOLDOUT,
    tolerance: float = TOLERANCE,
    dry_run: bool = False,
    base: tuple[Sequence[str], Sequence[str]] | None = None,
) -> Outcome:
    """A task model from the corrections (plus ``base``, the shipped training texts and labels, when
    the family ships one), compared with the live model on the held-out corrections."""
    from services.classifier.serving.bundle import SHIPPED_TASKS

    shipped = SHIPPED_TASKS.get(family)
    current_name = registry.active(
        models_dir,
        family,
        shipped if shipped and (models_dir / f"{shipped}.json").is_file() else None,
    )
    train, held = labelled(examples, family, holdout)
    outcome = Outcome(
        family,
        False,
        "",
        current=current_name,
        corrections={"train": len(train), "held_out": len(held)},
    )
    counts = Counter(y for _, y in train)
    enough = (
        len(train) >= MIN_PER_CLASS and len(counts.keys() | set(base[1])) >= 2
        if base
        else len(counts) >= 2 and min(counts.values()) >= MIN_PER_CLASS
    )  # shipped data holds the other labels
    if not enough or not held:
        outcome.reason = (
            f"not enough corrections: needs 2+ labels with {MIN_PER_CLASS}+ training rows each and a "
            f"held-out slice; have {dict(counts)} to train, {len(held)} held out"
        )
        return outcome
    progress(
        f"{family}: fitting on {len(train)} corrections {dict(counts)}"
        f"{f' and {len(base[0])} shipped rows' if base else ''}, {len(held)} held out"
    )
    corrected = dict(train)  # a correction overrides a shipped row with the same text
    shipped_rows = (
        [(t, y) for t, y in zip(*base, strict=True) if t not in corrected] if base else []
    )
    texts = [t for t, _ in shipped_rows] + [t for t, _ in train]
    labels = [y for _, y in shipped_rows] + [y for _, y in train]
    pipeline, params = recipes.fit_ours(texts, labels, macro_f_hm)
    held_texts, truth = [t for t, _ in held], [y for _, y in held]
    if current_name is not None:
        current = tasks.TaskModel.load(models_dir, current_name)
        now, parent = (
            current.predict(held_texts),
            {"name": current.card.name, "version": current.card.version},
        )
    else:
        majority = counts.most_common(1)[0][0]
        now, parent = (
            [majority] * len(held),
            {"name": f"majority label {majority!r}", "version": None},
        )
    outcome.figures = held_figures(
        truth, now, [str(p) for p in pipeline.predict(held_texts)], ["accuracy", "macro_f1"]
    )
    if not settle(outcome, family, tolerance, dry_run, progress):
        return outcome
    digest = fingerprint(texts, labels)
    name, revision = next_name(models_dir, family)
    version = f"1.{revision}.0+{digest[:8]}"
    card = {
        "task": family,
        "version": version,
        "training_data_sha256": digest,
        "rows": {
            "train": len(texts),
            **{f"label:{k}": v for k, v in sorted(Counter(labels).items())},
            "corrections_held_out": len(held),
        },
        "labels": sorted(set(labels)),
        "params": params,
        "parent": parent,
        "evaluation": {
            "overall": _overall(outcome.figures),
            "retrain": [asdict(f) for f in outcome.figures],
            "tolerance": tolerance,
        },
        "sources": [
            "helpdesk and router corrections (stored)",
            *(
                [f"the shipped training data of {shipped} ({len(shipped_rows)} rows)"]
                if base
                else []
            ),
        ],
    }
    return _promote(outcome, pipeline, models_dir, name, version, card, progress)
