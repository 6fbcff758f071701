"""The two model recipes: the plain baseline and ours (the one we ship).

* ``baseline()``: word TF-IDF ∪ char_wb 2–5 TF-IDF → ``LinearSVC()``, all defaults, untuned.
* ``fit_ours(texts, labels, score, language)``: word 1–2 ∪ char_wb 2–5 (or the plain features, or
  word 1–2-grams over spaCy tokens and lemmas when the language is given), sublinear
  TF-IDF, class-balanced ``LinearSVC``; the feature variant and ``C`` are chosen by stratified
  3-fold CV on the given training texts only, with the caller's metric, then the chosen SVM is
  refitted on all texts and given a sigmoid calibration (fitted on 3-fold out-of-fold scores) so the served model has probabilities.

Vectorisers are fitted once per variant on all training texts (labels unused) and the inner CV
runs on the matrices: cheap, and the test part of any outer split is never seen.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from services.classifier.lemmas import LemmaTokenizer, has_table

SEED = 20240601
C_GRID = (0.1, 0.3, 1.0)
WEIGHTS = (None, "balanced")
INNER_FOLDS = 3
SMALL, SMALL_REPEATS = 2_000, 5
Score = Callable[[Sequence[str], Sequence[str]], float]


def baseline() -> Pipeline:
    """The untuned reference: default word and char_wb 2–5 TF-IDF with a default linear SVM."""
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer()),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))),
        ]
    )
    return Pipeline([("features", features), ("clf", LinearSVC())])


def features(variant: str, language: str | None = None, word_min_df: int = 1) -> FeatureUnion:
    """``ngrams``: word 1–2 and char_wb 2–5 (seen twice), sublinear tf; ``plain``: unigrams, raw tf;
    ``lemmas``: as ``ngrams``, but the word 1–2-grams are over spaCy's tokens and lemmas of
    ``language`` (``lemmas.LemmaTokenizer``). ``word_min_df``: word n-grams seen in fewer documents are
    left out (2 on large mixed corpora halves the vocabulary, and the served model's memory)."""
    if variant == "plain":
        word = TfidfVectorizer(dtype=np.float32)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), dtype=np.float32)
        return FeatureUnion([("word", word), ("char", char)])
    if variant == "lemmas":
        if not language:
            raise ValueError("the lemmas feature set needs the training data's language")
        word = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            dtype=np.float32,
            min_df=word_min_df,
            tokenizer=LemmaTokenizer(language),
            lowercase=False,
            token_pattern=None,
        )
    else:
        word = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32, min_df=word_min_df
        )
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, dtype=np.float32
    )
    return FeatureUnion([("word", word), ("char", char)])


def variants(rows: int, language: str | None) -> tuple[str, ...]:
    """The feature sets inner CV chooses from: ``plain`` only on small sets (it only ever won
    there; on large ones it would double the cost), ``lemmas`` when the language is known and
    spaCy has a lemma table for it."""
    return (("ngrams", "plain") if rows < SMALL else ("ngrams",)) + (
        ("lemmas",) if language and has_table(language) else ()
    )


def _pruned(union: FeatureUnion) -> FeatureUnion:
    """A fitted union whose lemma tokenizers keep only the table entries its vocabulary can use."""
    for _, vectorizer in union.transformer_list:
        if isinstance(vectorizer.tokenizer, LemmaTokenizer):
            vectorizer.tokenizer.prune(vectorizer.vocabulary_)
    return union


def _svm(c: float, weight: str | None) -> LinearSVC:
    return LinearSVC(C=c, class_weight=weight, random_state=SEED)


def _inner_folds(labels: np.ndarray) -> int:
    """``INNER_FOLDS`` on small sets, 2 on large ones (time: ``make eval`` must fit in ~5 min),
    fewer when the rarest class is that small (user data)."""
    folds = INNER_FOLDS if len(labels) < SMALL else 2
    return max(2, min(folds, int(np.unique(labels, return_counts=True)[1].min())))


def select(
    texts: Sequence[str],
    labels: Sequence[str],
    score: Score,
    language: str | None = None,
    word_min_df: int = 1,
) -> tuple[dict, FeatureUnion, float]:
    """The best (variant, C, class weight) by inner CV: the params, fitted features, CV score."""
    y = np.asarray(labels)
    # small sets: repeat the inner CV with other shuffles, one split's noise decides too much there
    repeats = SMALL_REPEATS if len(y) < SMALL else 1
    folds = [
        StratifiedKFold(_inner_folds(y), shuffle=True, random_state=SEED + r)
        for r in range(repeats)
    ]
    best: tuple[float, dict, FeatureUnion] | None = None
    for variant in variants(len(y), language):
        union = features(variant, language, word_min_df)
        x = union.fit_transform(texts)
        for c, weight in itertools.product(C_GRID if len(y) < SMALL else C_GRID[1:], WEIGHTS):
            cv_score = float(
                np.mean([score(y, cross_val_predict(_svm(c, weight), x, y, cv=f)) for f in folds])
            )
            if best is None or cv_score > best[0]:
                best = (cv_score, {"features": variant, "C": c, "class_weight": weight}, union)
    cv_score, params, union = best
    return params, union, cv_score


def fit_ours(
    texts: Sequence[str],
    labels: Sequence[str],
    score: Score,
    language: str | None = None,
    word_min_df: int = 1,
) -> tuple[Pipeline, dict]:
    """Select, then fit the calibrated pipeline on all ``texts`` (in ``language``, when known:
    the lemma feature set is then a candidate too). Returns it and its params."""
    params, union, cv_score = select(texts, labels, score, language, word_min_df)
    union = _pruned(union)
    y = np.asarray(labels)
    # ensemble=False: one SVM fitted on every row, its sigmoid fitted on out-of-fold decisions
    clf = CalibratedClassifierCV(
        _svm(params["C"], params["class_weight"]),
        method="sigmoid",
        cv=_inner_folds(y),
        ensemble=False,
    )
    clf.fit(union.transform(texts), y)
    params["inner_cv_score"] = round(float(cv_score), 4)
    if word_min_df > 1:
        params["word_min_df"] = word_min_df
    return Pipeline([("features", union), ("clf", clf)]), params
