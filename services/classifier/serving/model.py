"""The spam model: a scikit-learn pipeline stored with skops, plus its JSON model card.

Loading never trusts the artifact blindly: the card's sha256 must match the file, and every
type skops reports as untrusted must be on ``ALLOWED_TYPES`` or loading is refused.
Scoring is pure and thread-safe (read-only): ``SpamModel.score(text)`` / ``score_batch(texts)``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from pydantic import BaseModel, ConfigDict

from services.classifier.serving.features import (
    FastProba,
    FastUnion,
    FeatureNames,
    strongest,
)

NAME = "spam-v1"
MAX_CHARS = 5_000  # longer texts are scored on their beginning: bounded CPU per message
TOP_FEATURES = 5
# Types the training pipeline is allowed to contain beyond what skops trusts by default.
ALLOWED_TYPES = frozenset(
    {
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.pipeline.Pipeline",
    }
)
_HREF = re.compile(r"""<a\s[^>]*href=["']([^"']*)["'][^>]*>""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{1,500}>")
# Invisible characters; the YouTube export ends most ham (not spam) rows with U+FEFF: a leak.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None)


class UntrustedArtifact(RuntimeError):
    """The artifact holds types outside the allow-list, or does not match its model card."""


class ModelCard(BaseModel):
    """The sidecar ``<name>.json``: what was trained, on what, and how well it did."""

    model_config = ConfigDict(frozen=True, extra="allow")
    name: str
    version: str
    artifact: str
    artifact_sha256: str
    trained_at: str
    training_data_sha256: str
    rows: dict[str, int]
    evaluation: dict[str, Any]


@dataclass(frozen=True)
class SpamScore:
    probability: float
    features: tuple[tuple[str, float], ...]  # n-grams pushing towards spam, strongest first


def normalise(text: str) -> str:
    """The text as the model sees it: markup removed (link targets kept), entities decoded,
    invisible characters dropped, whitespace collapsed, cut to ``MAX_CHARS``."""
    text = _TAG.sub(" ", _HREF.sub(r" \1 ", text[: MAX_CHARS * 2]))
    text = html.unescape(text).translate(_INVISIBLE)
    return " ".join(text.split())[:MAX_CHARS]


_ADDRESS = re.compile(r"(?:https?://|www\.)\S+|(?<![\w.])@\w{1,30}", re.IGNORECASE)


def content(normalised: str) -> str:
    """What the customer wrote, without the parts that carry no evidence of spam or of a request
    on a message addressed to the brand: links (X wraps every link and picture in ``t.co``) and
    @handles. Whitespace collapsed; ``""`` when nothing else is left (a picture, a forwarded post)."""
    if "@" not in normalised and "http" not in normalised and "www" not in normalised:
        return normalised
    return " ".join(_ADDRESS.sub(" ", normalised).split())


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(texts: Sequence[str], labels: Sequence) -> str:
    """sha256 over the training texts and labels, in training order (the model card's
    ``training_data_sha256``)."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def compact(pipeline: Any) -> Any:
    """Plain ``int`` vocabulary indices: skops stores each numpy scalar as its own file
    (50,000 of them made a 9 MB artifact that took a minute to write)."""
    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        vectorizer.vocabulary_ = {gram: int(i) for gram, i in vectorizer.vocabulary_.items()}
    return pipeline


def load_pipeline(path: Path, allowed: frozenset[str] = ALLOWED_TYPES) -> Any:
    """Load a skops file, trusting only the ``allowed`` types. Raises ``UntrustedArtifact``."""
    untrusted = sio.get_untrusted_types(file=path)
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise UntrustedArtifact(f"{path.name}: refusing untrusted types {refused}")
    return sio.load(path, trusted=untrusted)


class SpamModel:
    """A loaded spam pipeline (``features`` → ``clf``) and its model card."""

    def __init__(self, pipeline: Any, card: ModelCard) -> None:
        self.card = card
        self._features = pipeline.named_steps["features"]
        self._fast = FastUnion(
            self._features
        )  # same matrix as _features.transform, several times faster
        self._clf = pipeline.named_steps["clf"]
        self._proba = FastProba(
            self._clf
        )  # same as _clf.predict_proba, without per-call validation
        self._spam_column = int(np.flatnonzero(self._clf.classes_ == 1)[0])
        self._coef = self._clf.coef_[0]
        self._label = FeatureNames(self._features)  # column -> "word:refund"

    @classmethod
    def load(cls, models_dir: Path, name: str = NAME) -> SpamModel:
        """Read ``<name>.json`` and the artifact it names; check integrity and types.

        Raises ``FileNotFoundError``, ``pydantic.ValidationError`` or ``UntrustedArtifact``."""
        card = ModelCard.model_validate(
            json.loads((models_dir / f"{name}.json").read_text("utf-8"))
        )
        artifact = models_dir / card.artifact
        if sha256_file(artifact) != card.artifact_sha256:
            raise UntrustedArtifact(f"{artifact.name}: sha256 does not match {name}.json")
        return cls(load_pipeline(artifact), card)

    def score(self, text: str) -> SpamScore:
        """Spam probability of ``text`` and the n-grams that contributed most to it."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[SpamScore]:
        """One ``SpamScore`` per text, in order: one vectorise and one predict over the whole
        batch (message by message runs about ten times slower). Read-only: thread-safe."""
        return self.score_normalised([normalise(text) for text in texts])

    def score_normalised(self, normalised: Sequence[str]) -> list[SpamScore]:
        """``score_batch`` of texts already passed through ``normalise`` (the stage normalises
        a batch once for every model)."""
        if not normalised:
            return []
        x = self._fast.transform(normalised)
        probabilities = self._proba.predict_proba(x)[:, self._spam_column].tolist()
        return [
            SpamScore(p, f)
            for p, f in zip(
                probabilities, strongest(x, self._coef, self._label, TOP_FEATURES), strict=True
            )
        ]
