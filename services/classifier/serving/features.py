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
stop words and lower-casing, or with spaCy lemmas (``lemmas.LemmaTokenizer``, given the text as
written); ``char_wb`` with lower-casing; no custom preprocessor/analyzer, not binary);
anything else, or a union with weights, falls back to scikit-learn's ``transform``.
Thread-safe for concurrent readers (dict operations are atomic under the GIL; a racing miss
just computes the same entry twice).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.linear_model import LogisticRegression
from sklearn.utils.sparsefuncs_fast import (
    inplace_csr_row_normalize_l1,
    inplace_csr_row_normalize_l2,
)

from services.classifier.lemmas import LemmaTokenizer

CACHE_WORDS = 50_000  # distinct words cached per vectoriser (at most ~10 MB; cleared when full)


def _plain(vectorizer: Any) -> bool:
    p = vectorizer.get_params()
    # lower-casing with the default token pattern, or spaCy lemmas (which lower-case themselves)
    tokens = (p.get("lowercase") is True and p.get("tokenizer") is None) or (
        p.get("lowercase") is False
        and isinstance(p.get("tokenizer"), LemmaTokenizer)
        and p["analyzer"] == "word"
    )
    return (
        p.get("analyzer") in ("word", "char_wb")
        and tokens
        and p.get("input") == "content"
        and p.get("preprocessor") is None
        and p.get("stop_words") is None
        and p.get("strip_accents") is None
        and not p.get("binary")
        and hasattr(vectorizer, "_tfidf")
        and (p["analyzer"] == "char_wb" or tuple(p.get("ngram_range", ())) in ((1, 1), (1, 2)))
    )


class _Vectorizer:
    def __init__(self, vectorizer: Any) -> None:
        self.vectorizer = vectorizer
        self.char = vectorizer.analyzer == "char_wb"
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.width = (
            len(vectorizer.get_feature_names_out())
            if not self.vocabulary
            else (max(self.vocabulary.values()) + 1)
        )
        self.bigrams = tuple(vectorizer.ngram_range) == (1, 2)
        self.lemmas: LemmaTokenizer | None = (
            vectorizer.tokenizer if isinstance(vectorizer.tokenizer, LemmaTokenizer) else None
        )  # reads the text as written, not lower-cased
        self.token = re.compile(vectorizer.token_pattern) if self.lemmas is None else None
        self.dtype = vectorizer.dtype
        self._cache: dict[str, bytes] = {}

    def columns(self, lowered: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary columns of every n-gram of the lower-cased documents (as written, for the
        lemma tokenizer) with repeats, laid end to end, and how many belong to each document."""
        if self.char:
            # sklearn collapses whitespace runs before splitting: the same words as split()
            split = [doc.split() for doc in lowered]
            cache = self._cache
            missing = [word for words in split for word in words if word not in cache]
            if missing:
                if len(cache) + len(missing) > CACHE_WORDS:
                    cache.clear()  # the batch's words that were cached are gone too: look up all of them
                    missing = [word for words in split for word in words]
                cache.update(self._word_columns(list(dict.fromkeys(missing))))
            parts, lengths = [], []
            for words in split:
                parts += map(cache.__getitem__, words)
                lengths.append(len(parts))
            sizes = (
                np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)) // 4
            )  # int32 columns per word
            return np.frombuffer(b"".join(parts), dtype=np.int32), _segment_sums(sizes, lengths)
        grams: list[str] = []
        lengths = []
        for doc in lowered:
            tokens = self.lemmas(doc) if self.lemmas is not None else self.token.findall(doc)
            grams += tokens
            if self.bigrams and len(tokens) > 1:
                grams += map(" ".join, zip(tokens, tokens[1:], strict=False))
            lengths.append(len(grams))
        found, known = self._look_up(grams)
        return found, _segment_sums(known, lengths)

    def _look_up(self, grams: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary columns of the known ``grams`` (int32, in order) and which were known."""
        found = np.fromiter(
            map(self.vocabulary.get, grams, repeat(-1)), dtype=np.int32, count=len(grams)
        )
        known = found >= 0
        return found[known], known

    def _word_columns(self, words: list[str]) -> dict[str, bytes]:
        """Each word's ``char_wb`` n-grams' vocabulary columns (int32 bytes: a third of an
        ndarray's overhead), for all words in one vocabulary pass. The n-grams are
        scikit-learn's ``_char_wb_ngrams`` of the word: the word padded with one space on
        each side, every n-gram of each length in ``ngram_range``; a padded word no longer
        than n is taken once, whole, and ends the word's n-grams."""
        low, high = self.vectorizer.ngram_range
        grams: list[str] = []
        ends = []
        for word in words:
            padded = f" {word} "
            size = len(padded)
            for n in range(low, high + 1):
                if n >= size:
                    grams.append(padded)
                    break
                grams += [padded[i : i + n] for i in range(size - n + 1)]
            ends.append(len(grams))
        found, known = self._look_up(grams)
        raw = found.tobytes()
        offsets = (_segment_sums(known, ends).cumsum() * 4).tolist()
        return {
            word: raw[start:end]
            for word, start, end in zip(words, [0, *offsets[:-1]], offsets, strict=True)
        }

    def transform(self, lowered: Sequence[str]) -> sp.csr_matrix:
        cols, lengths = self.columns(lowered)
        return _tfidf(self.vectorizer._tfidf, _counts(cols, lengths, self.width, self.dtype))


def _segment_sums(values: np.ndarray, ends: list[int]) -> np.ndarray:
    """Sums of ``values`` over consecutive segments ending (exclusive) at ``ends``, empty ones included."""
    total = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=total[1:])
    return np.diff(total[np.asarray(ends, dtype=np.int64)], prepend=0)


def _counts(cols: np.ndarray, lengths: np.ndarray, width: int, dtype: Any) -> sp.csr_matrix:
    """The CSR count matrix of documents whose columns are ``cols`` (``lengths[i]`` of them for
    document ``i``, with repeats), indices sorted: what scipy's ``csr_matrix((ones, (rows,
    cols)))`` + ``sum_duplicates`` gives, in one sort of (row, column) keys instead of a sort per row."""
    n = len(lengths)
    kind = np.int32 if n * width < 2**31 else np.int64
    key = np.repeat(np.arange(n, dtype=kind) * kind(width), lengths)
    key += cols
    key.sort()
    first = np.empty(key.size, dtype=bool)
    first[:1] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, key.size)).astype(dtype)
    rows, columns = np.divmod(key[starts], kind(width))
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((counts, columns.astype(np.int32), indptr), shape=(n, width), dtype=dtype)


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
        return sp.hstack(
            [part.transform(texts if part.lemmas is not None else lowered) for part in self._parts]
        ).tocsr()


class FastProba:
    """``predict_proba(x)`` equal to ``clf.predict_proba(x)`` for a CSR ``x``; see the module
    docstring. Read-only: thread-safe."""

    def __init__(self, clf: Any) -> None:
        self.clf = clf
        self.classes_ = clf.classes_
        self._kind = "direct"
        if isinstance(clf, LogisticRegression) and len(clf.classes_) == 2:
            self._kind = "logistic"
        elif (
            isinstance(clf, CalibratedClassifierCV)
            and clf.method == "sigmoid"
            and all(
                _linear(c.estimator)
                and all(isinstance(k, _SigmoidCalibration) for k in c.calibrators)
                for c in clf.calibrated_classifiers_
            )
        ):
            self._kind = "calibrated"
            # LabelEncoder().fit(c.classes).transform(estimator.classes_), once
            self._positions = [
                np.searchsorted(np.unique(c.classes), c.estimator.classes_)
                for c in clf.calibrated_classifiers_
            ]

    def predict_proba(self, x: sp.csr_matrix) -> np.ndarray:
        if self._kind == "logistic":
            probability = expit(_decision(self.clf, x))
            return np.stack([1 - probability, probability], axis=1)
        if self._kind == "calibrated":
            mean = np.zeros((x.shape[0], self.classes_.shape[0]))
            for calibrated, positions in zip(
                self.clf.calibrated_classifiers_, self._positions, strict=True
            ):
                mean += _calibrated(calibrated, positions, x)
            mean /= len(self.clf.calibrated_classifiers_)
            return mean
        return self.clf.predict_proba(x)


def _linear(estimator: Any) -> bool:
    return (
        hasattr(estimator, "coef_")
        and hasattr(estimator, "intercept_")
        and hasattr(estimator, "decision_function")
    )


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
    for class_index, column, calibrator in zip(
        positions, predictions.T, calibrated.calibrators, strict=False
    ):
        proba[:, class_index + 1 if n_classes == 2 else class_index] = expit(
            -(calibrator.a_ * column + calibrator.b_)
        )
    if n_classes == 2:
        proba[:, 0] = 1.0 - proba[:, 1]
    else:
        denominator = np.sum(proba, axis=1)[:, np.newaxis]
        proba = np.divide(
            proba, denominator, out=np.full_like(proba, 1 / n_classes), where=denominator != 0
        )
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
        # names asked for, kept: only positive-weight columns are ever asked (at most the vocabulary)
        self._said: dict[int, str] = {}

    def __call__(self, column: int) -> str:
        said = self._said.get(column)
        if said is not None:
            return said
        for offset, name, names in reversed(self._parts):
            if column >= offset:
                said = self._said[column] = f"{name}:{names[column - offset]}"
                return said
        raise IndexError(column)


def strongest(
    x: sp.csr_matrix,
    weights: np.ndarray,
    names: FeatureNames,
    top: int,
    labels: np.ndarray | None = None,
) -> list[tuple[tuple[str, float], ...]]:
    """Per row of ``x``, up to ``top`` ``(name, contribution)`` pairs of the columns whose
    contribution ``value × weight`` is positive, strongest first (ties in column order),
    contributions rounded to 3 places. ``weights`` is one weight per column, or one row of
    weights per label with ``labels`` giving each row's label.

    The whole batch at once: the contributions are laid out as a dense (rows × longest row)
    array and the ``top`` strongest are taken by ``top`` row-wise ``argmax`` passes (the first
    of equal values wins, so ties go in column order), instead of one sort per row."""
    n = x.shape[0]
    if n == 0 or x.nnz == 0:
        return [()] * n
    lengths = np.diff(x.indptr)
    rows = np.repeat(np.arange(n), lengths)
    per_entry = weights[x.indices] if labels is None else weights[labels[rows], x.indices]
    dense = np.zeros((n, int(lengths.max())))
    dense[rows, np.arange(rows.size) - x.indptr[rows]] = x.data * per_entry
    every = np.arange(n)
    places, values = np.empty((n, top), dtype=np.int64), np.empty((n, top))
    for k in range(top):
        at = dense.argmax(axis=1)
        places[:, k], values[:, k] = at, dense[every, at]
        dense[every, at] = 0.0
    positive = (
        values > 0
    )  # a zero or negative maximum: the row has no more (and ``at`` may be padding)
    columns = x.indices[np.where(positive, places + x.indptr[:-1, None], 0)]
    return [
        tuple((names(c), round(v, 3)) for c, v, keep in zip(cs, vs, ks, strict=True) if keep)
        for cs, vs, ks in zip(columns.tolist(), values.tolist(), positive.tolist(), strict=True)
    ]
