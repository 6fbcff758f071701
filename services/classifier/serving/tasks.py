"""Task models (offense, sentiment, contact reason, relevance, reply-needed, ...): train, save, load.

A task model is ``recipes.fit_ours`` fitted on normalised texts, stored as ``<name>.skops``
beside its model card ``<name>.json`` (``model.ModelCard``: version, training-data
fingerprint, evaluation figures, sources). Loading checks the card's sha256 against the file
and refuses any type outside ``ALLOWED_TYPES`` (skops never unpickles). ``TaskModel`` is
read-only after loading and safe to share between threads.

For the stage: ``load_task_model(models_dir, name).predict_proba(texts)``, ``.score_batch(texts)``
(label, probability and strongest n-grams per text, one predict per batch) and ``.explain(text)``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio

from services.classifier import lemmas
from services.classifier.serving import model as spam_model
from services.classifier.serving.features import (
    FastProba,
    FastUnion,
    FeatureNames,
    strongest,
)
from services.classifier.serving.model import (  # noqa: F401 - fingerprint is part of this module's API
    ModelCard,
    UntrustedArtifact,
    compact,
    fingerprint,
    load_pipeline,
    normalise,
    sha256_file,
)

TOP_FEATURES = 5
ALLOWED_TYPES = spam_model.ALLOWED_TYPES | frozenset(
    {
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.svm._classes.LinearSVC",
        "numpy.str_",
        "builtins.str",
        lemmas.TYPE_NAME,  # spaCy lemmas as word features (``recipes``' lemma feature set)
    }
)


@dataclass(frozen=True)
class Explanation:
    label: str
    probability: float
    features: tuple[tuple[str, float], ...]  # n-grams pushing towards ``label``, strongest first


def save(pipeline: Any, out: Path, name: str, card: dict) -> ModelCard:
    """Write ``<name>.skops`` and ``<name>.json`` (the card completed with artifact fields)."""
    out.mkdir(parents=True, exist_ok=True)
    artifact = out / f"{name}.skops"
    sio.dump(compact(pipeline), artifact, compression=8)  # zipfile.ZIP_DEFLATED
    full = {
        "name": name,
        **card,
        "artifact": artifact.name,
        "artifact_sha256": sha256_file(artifact),
        "artifact_bytes": artifact.stat().st_size,
        "trained_at": card.get("trained_at") or datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / f"{name}.json").write_text(
        json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return ModelCard.model_validate(full)


class TaskModel:
    """A loaded task pipeline (``features`` → calibrated ``clf``) and its card."""

    def __init__(self, pipeline: Any, card: ModelCard) -> None:
        self.card = card
        self._features = pipeline.named_steps["features"]
        self._fast = FastUnion(self._features)  # same matrix as _features.transform, faster
        self._clf = pipeline.named_steps["clf"]
        self._proba = FastProba(
            self._clf
        )  # same as _clf.predict_proba, without per-call validation
        self.classes: tuple[str, ...] = tuple(str(c) for c in self._clf.classes_)
        coef = self._clf.calibrated_classifiers_[0].estimator.coef_
        # binary SVMs have one row, for the second class; the first class gets its negation
        self._coef = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef
        self._label = FeatureNames(self._features)  # column -> "word:refund"

    @classmethod
    def load(cls, models_dir: Path, name: str) -> TaskModel:
        """Read ``<name>.json`` and its artifact. Raises ``FileNotFoundError``,
        ``pydantic.ValidationError`` or ``UntrustedArtifact``."""
        card = ModelCard.model_validate(
            json.loads((models_dir / f"{name}.json").read_text("utf-8"))
        )
        artifact = models_dir / card.artifact
        if sha256_file(artifact) != card.artifact_sha256:
            raise UntrustedArtifact(f"{artifact.name}: sha256 does not match {name}.json")
        return cls(load_pipeline(artifact, ALLOWED_TYPES), card)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in ``classes`` order. Batch for speed."""
        return self.predict_proba_normalised([normalise(t) for t in texts])

    def predict_proba_normalised(self, normalised: Sequence[str]) -> np.ndarray:
        """``predict_proba`` of texts already passed through ``normalise``."""
        return self._proba.predict_proba(self._fast.transform(normalised))

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def score_batch(self, texts: Sequence[str]) -> list[Explanation]:
        """``explain`` for a whole batch: one vectorise and one predict over all texts (the
        stage's path; per text it would be several times slower). Same answers as ``explain``."""
        return self.score_normalised([normalise(t) for t in texts])

    def score_normalised(self, normalised: Sequence[str]) -> list[Explanation]:
        """``score_batch`` of texts already passed through ``normalise`` (the stage normalises a
        batch once for every model)."""
        if not normalised:
            return []
        x = self._fast.transform(normalised)
        probabilities = self._proba.predict_proba(x)
        best = probabilities.argmax(axis=1)
        chosen = probabilities[np.arange(x.shape[0]), best].tolist()
        grams = strongest(x, self._coef, self._label, TOP_FEATURES, labels=best)
        return [
            Explanation(self.classes[label], round(p, 4), features)
            for label, p, features in zip(best.tolist(), chosen, grams, strict=True)
        ]

    def explain(self, text: str) -> Explanation:
        """The most probable label, its probability, and the n-grams that pushed towards it."""
        return self.score_normalised([normalise(text)])[0]


def load_task_model(models_dir: Path, name: str) -> TaskModel:
    """The stage's entry point: ``TaskModel.load`` under a stable name."""
    return TaskModel.load(models_dir, name)
