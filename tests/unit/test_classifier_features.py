"""The batch path's shortcuts give exactly the answers of the slow path: the fast TF-IDF
transform equals scikit-learn's matrix for both shipped models on the replay texts (and odd
inputs), batched language detection equals one-by-one detection, and the phrase pre-filter
never hides a phrase match."""

from __future__ import annotations

import numpy as np
import pytest

from services.classifier.features import FastUnion
from services.classifier.language import LanguageDetector, languages_of
from services.classifier.model import SpamModel, normalise
from services.classifier.rules import load_dir
from services.classifier.tasks import TaskModel
from shared.settings import ClassifierSettings
from tools import replay

ODD = ["", "   ", "a", "ÄÖÜ ß STRASSE straße", "x" * 3000, "hi  there\t\nyou 👍🏽 ok", "İstanbul ǅ ﬁ", "12 345 678"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [r["text"] for r in replay.load()] + ODD


@pytest.mark.parametrize("name", ["spam-v1", "offense-de-v1"])
def test_fast_transform_equals_scikit_learn(texts, name):
    models_dir = ClassifierSettings().models_dir
    model = SpamModel.load(models_dir, name) if name.startswith("spam") else TaskModel.load(models_dir, name)
    fast = FastUnion(model._features)
    assert fast.accelerated
    normalised = [normalise(t) for t in texts]
    for _ in range(2):  # cold, then from the word cache
        expected, got = model._features.transform(normalised).tocsr(), fast.transform(normalised)
        expected.sort_indices()
        assert expected.shape == got.shape and expected.dtype == got.dtype
        assert np.array_equal(expected.indptr, got.indptr) and np.array_equal(expected.indices, got.indices)
        assert np.array_equal(expected.data, got.data)


def test_unusual_vectorisers_fall_back_to_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    union = FeatureUnion([("w", TfidfVectorizer(stop_words=["the"])), ("c", TfidfVectorizer(analyzer="char"))])
    union.fit(["the cat sat", "a dog ran far"])
    fast = FastUnion(union)
    assert not fast.accelerated
    assert (fast.transform(["the cat ran"]) != union.transform(["the cat ran"])).nnz == 0


def test_batched_language_detection_equals_one_by_one(texts):
    detector = LanguageDetector()
    def single(text: str) -> str:  # the old path: one detect_language_of call per text
        sample = text[:1000]
        if not any(c.isalpha() for c in sample):
            return "und"
        lingua = detector._detector if len(sample) < 120 else detector._fast
        found = lingua.detect_language_of(sample if len(sample) < 120 else sample[:400])
        return found.iso_code_639_1.name.lower() if found is not None else "und"

    one_by_one = [single(t) for t in texts]
    batched = languages_of(texts, [None] * len(texts), detector)
    assert batched == one_by_one
    again = languages_of(texts, [None] * len(texts), detector)  # short ones now from the cache
    assert again == batched
    assert languages_of(["danke!", "hello there"], ["de-DE", None], detector)[0] == "de"


def test_phrase_prefilter_never_hides_a_match(texts):
    rule_sets = load_dir(ClassifierSettings().rules_dir)
    probes = texts + ["Das ist eine FRECHHEIT!", "worst. customer. service. ever", "Reporterin der Redaktion hier"]
    for rule_set in rule_sets.values():
        for text in probes:
            if not rule_set._may_phrase(text):
                assert rule_set._phrase_hits(text) == {}, text
