"""A faster ``transform`` for the models' TF-IDF feature unions, with *identical* output.

scikit-learn's ``TfidfVectorizer.transform`` counts n-grams in Python, one n-gram at a time;
for ``char_wb`` 2–5-grams that is about 100 dict look-ups per word and it dominated the
classifier's CPU. ``char_wb`` n-grams never cross a word boundary, so a document's n-grams are
the concatenation of its words' n-grams: ``FastUnion`` computes them once per distinct word
(with scikit-learn's own ``_char_wb_ngrams``), keeps the word's vocabulary columns in a
bounded cache, and builds the whole batch's count matrix with numpy. Word 1–2-grams are
counted directly from the same token pattern. The counts then go through the vectoriser's own
fitted ``TfidfTransformer`` weights (sublinear tf, idf, l2 with scikit-learn's own row
normaliser), applied directly: the transformer's ``transform`` re-validates its input on every
call (dataframe-library probes included), which cost more than the arithmetic. The matrix equals
scikit-learn's value for value (tests/unit/test_classifier_features.py compares them on the
replay texts).

``FastProba`` does the same for the classifiers behind the features: ``predict_proba`` of a
binary ``LogisticRegression`` or of a sigmoid ``CalibratedClassifierCV`` over linear models,
computed with the same operations in the same order (so the same floats) without the
per-call validation; any other classifier is asked directly.

Only plain configurations are accelerated (``word`` with the default token pattern and no
stop words, ``char_wb``; lower-casing; no custom preprocessor/tokenizer/analyzer, not binary);
anything else, or a union with weights, falls back to scikit-learn's ``transform``.
Thread-safe for concurrent readers (dict operations are atomic under the GIL; a racing miss
just computes the same entry twice).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.linear_model import LogisticRegression
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l1, inplace_csr_row_normalize_l2

CACHE_WORDS = 50_000  # distinct words cached per vectoriser (at most ~10 MB; cleared when full)
_WHITE_SPACES = re.compile(r"\s\s+")


def _plain(vectorizer: Any) -> bool:
    p = vectorizer.get_params()
    return (p.get("analyzer") in ("word", "char_wb") and p.get("lowercase") is True and p.get("input") == "content"
            and p.get("preprocessor") is None and p.get("tokenizer") is None and p.get("stop_words") is None
            and p.get("strip_accents") is None and not p.get("binary") and hasattr(vectorizer, "_tfidf")
            and (p["analyzer"] == "char_wb" or tuple(p.get("ngram_range", ())) in ((1, 1), (1, 2))))


class _Vectorizer:
    def __init__(self, vectorizer: Any) -> None:
        self.vectorizer = vectorizer
        self.char = vectorizer.analyzer == "char_wb"
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.width = len(vectorizer.get_feature_names_out()) if not self.vocabulary else (
            max(self.vocabulary.values()) + 1)
        self.bigrams = tuple(vectorizer.ngram_range) == (1, 2)
        self.token = re.compile(vectorizer.token_pattern)
        self.dtype = vectorizer.dtype
        self._cache: dict[str, bytes] = {}

    def columns(self, lowered: str) -> np.ndarray:
        """Vocabulary columns of every n-gram of one lower-cased document (with repeats)."""
        if self.char:
            cache, parts = self._cache, []
            for word in _WHITE_SPACES.sub(" ", lowered).split():
                found = cache.get(word)
                if found is None:
                    vocab = self.vocabulary
                    found = np.fromiter((vocab[g] for g in self.vectorizer._char_wb_ngrams(word) if g in vocab),
                                        dtype=np.int32).tobytes()  # bytes: a third of an ndarray's overhead
                    if len(cache) >= CACHE_WORDS:
                        cache.clear()
                    cache[word] = found
                parts.append(found)
            return np.frombuffer(b"".join(parts), dtype=np.int32)
        tokens = self.token.findall(lowered)
        vocab = self.vocabulary
        grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])] if self.bigrams else tokens
        return np.fromiter((vocab[g] for g in grams if g in vocab), dtype=np.int32)

    def transform(self, lowered: Sequence[str]) -> sp.csr_matrix:
        per_doc = [self.columns(doc) for doc in lowered]
        lengths = np.fromiter((len(c) for c in per_doc), dtype=np.int64, count=len(per_doc))
        cols = np.concatenate(per_doc) if per_doc else np.empty(0, np.int32)
        rows = np.repeat(np.arange(len(per_doc), dtype=np.int32), lengths)
        counts = sp.csr_matrix((np.ones(len(cols), dtype=self.dtype), (rows, cols)),
                               shape=(len(per_doc), self.width), dtype=self.dtype)
        counts.sum_duplicates()
        counts.sort_indices()
        return _tfidf(self.vectorizer._tfidf, counts)


_NORMALISERS = {"l2": inplace_csr_row_normalize_l2, "l1": inplace_csr_row_normalize_l1}


def _tfidf(transformer: Any, counts: sp.csr_matrix) -> sp.csr_matrix:
    """``transformer.transform(counts, copy=False)`` without its input validation: the same
    in-place steps (``TfidfTransformer.transform``) on a CSR matrix built here."""
    if transformer.norm is not None and transformer.norm not in _NORMALISERS:
        return transformer.transform(counts, copy=False)
    if transformer.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if hasattr(transformer, "idf_"):
        counts.data *= transformer.idf_[counts.indices]
    if transformer.norm is not None:
        _NORMALISERS[transformer.norm](counts)
    return counts


class FastUnion:
    """``transform(texts)`` equal to ``union.transform(texts)``; see the module docstring."""

    def __init__(self, union: Any) -> None:
        self.union = union
        parts = [v for _, v in union.transformer_list]
        self.accelerated = union.transformer_weights is None and all(map(_plain, parts))
        self._parts = [_Vectorizer(v) for v in parts] if self.accelerated else []

    def clear_cache(self) -> None:
        for part in self._parts:
            part._cache.clear()

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        if not self.accelerated:
            return self.union.transform(texts)
        lowered = [t.lower() for t in texts]
        return sp.hstack([part.transform(lowered) for part in self._parts]).tocsr()


class FastProba:
    """``predict_proba(x)`` equal to ``clf.predict_proba(x)`` for a CSR ``x``; see the module
    docstring. Read-only: thread-safe."""

    def __init__(self, clf: Any) -> None:
        self.clf = clf
        self.classes_ = clf.classes_
        self._kind = "direct"
        if isinstance(clf, LogisticRegression) and len(clf.classes_) == 2:
            self._kind = "logistic"
        elif (isinstance(clf, CalibratedClassifierCV) and clf.method == "sigmoid"
              and all(_linear(c.estimator) and all(isinstance(k, _SigmoidCalibration) for k in c.calibrators)
                      for c in clf.calibrated_classifiers_)):
            self._kind = "calibrated"
            # LabelEncoder().fit(c.classes).transform(estimator.classes_), once
            self._positions = [np.searchsorted(np.unique(c.classes), c.estimator.classes_)
                               for c in clf.calibrated_classifiers_]

    def predict_proba(self, x: sp.csr_matrix) -> np.ndarray:
        if self._kind == "logistic":
            probability = expit(_decision(self.clf, x))
            return np.stack([1 - probability, probability], axis=1)
        if self._kind == "calibrated":
            mean = np.zeros((x.shape[0], self.classes_.shape[0]))
            for calibrated, positions in zip(self.clf.calibrated_classifiers_, self._positions, strict=True):
                mean += _calibrated(calibrated, positions, x)
            mean /= len(self.clf.calibrated_classifiers_)
            return mean
        return self.clf.predict_proba(x)


def _linear(estimator: Any) -> bool:
    return hasattr(estimator, "coef_") and hasattr(estimator, "intercept_") and hasattr(estimator, "decision_function")


def _decision(estimator: Any, x: sp.csr_matrix) -> np.ndarray:
    """``LinearClassifierMixin.decision_function``'s arithmetic."""
    coef = estimator.coef_.T if estimator.coef_.ndim == 2 else estimator.coef_
    scores = np.asarray(x @ coef) + estimator.intercept_
    return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores


def _calibrated(calibrated: Any, positions: np.ndarray, x: sp.csr_matrix) -> np.ndarray:
    """``_CalibratedClassifier.predict_proba`` for sigmoid calibrators over a linear model."""
    predictions = _decision(calibrated.estimator, x)
    if predictions.ndim == 1:
        predictions = predictions.reshape(-1, 1)
    n_classes = calibrated.classes.shape[0]
    proba = np.zeros((x.shape[0], n_classes))
    for class_index, column, calibrator in zip(positions, predictions.T, calibrated.calibrators, strict=False):
        proba[:, class_index + 1 if n_classes == 2 else class_index] = expit(-(calibrator.a_ * column + calibrator.b_))
    if n_classes == 2:
        proba[:, 0] = 1.0 - proba[:, 1]
    else:
        denominator = np.sum(proba, axis=1)[:, np.newaxis]
        proba = np.divide(proba, denominator, out=np.full_like(proba, 1 / n_classes), where=denominator != 0)
    proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
    return proba


class FeatureNames:
    """``"<part>:<n-gram>"`` of a column of the union's matrix (``word:refund``), without
    ``get_feature_names_out``'s array of new prefixed strings (about 150,000 of them for a task
    model): the inverted vocabularies point at the vocabulary's own key strings."""

    def __init__(self, union: Any) -> None:
        self._parts: list[tuple[int, str, list[str]]] = []
        offset = 0
        for name, vectorizer in union.transformer_list:
            vocabulary = vectorizer.vocabulary_
            names = [""] * len(vocabulary)
            for gram, column in vocabulary.items():
                names[column] = gram
            self._parts.append((offset, name, names))
            offset += len(names)

    def __call__(self, column: int) -> str:
        for offset, name, names in reversed(self._parts):
            if column >= offset:
                return f"{name}:{names[column - offset]}"
        raise IndexError(column)
