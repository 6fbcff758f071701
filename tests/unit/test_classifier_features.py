"""The batch path's shortcuts give exactly the answers of the slow path: the fast TF-IDF
transform equals scikit-learn's matrix for both shipped models on the replay texts (and odd
inputs), batched language detection equals one-by-one detection, and the phrase pre-filter
never hides a phrase match."""

from __future__ import annotations

import numpy as np
import pytest

from services.classifier.rules import load_dir
from services.classifier.serving.features import FastUnion
from services.classifier.serving.model import SpamModel, normalise
from services.classifier.serving.tasks import TaskModel
from services.classifier.settings import ClassifierSettings
from services.classifier.signals.language import LanguageDetector, languages_of
from tools import replay

ODD = [
    "",
    "   ",
    "a",
    "ÄÖÜ ß STRASSE straße",
    "x" * 3000,
    "hi  there\t\nyou 👍🏽 ok",
    "İstanbul ǅ ﬁ",
    "12 345 678",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [r["text"] for r in replay.load()] + ODD


@pytest.mark.parametrize("name", ["spam-v1", "offense-de-v1"])
def test_fast_transform_equals_scikit_learn(texts, name):
    models_dir = ClassifierSettings().models_dir
    model = (
        SpamModel.load(models_dir, name)
        if name.startswith("spam")
        else TaskModel.load(models_dir, name)
    )
    fast = FastUnion(model._features)
    assert fast.accelerated
    normalised = [normalise(t) for t in texts]
    # the whole set twice (cold, then from the word cache), and batches that start or end with documents
    # that have no n-gram at all (their rows must stay empty, the others in place)
    for batch in (
        normalised,
        normalised,
        ["", *ODD[:3], "zzqx"],
        ["", ""],
        [" ", "refund now", ""],
        ["a"],
    ):
        expected, got = model._features.transform(batch).tocsr(), fast.transform(batch)
        expected.sort_indices()
        assert expected.shape == got.shape and expected.dtype == got.dtype
        assert np.array_equal(expected.indptr, got.indptr) and np.array_equal(
            expected.indices, got.indices
        )
        assert np.array_equal(expected.data, got.data)


def test_strongest_contributions_per_row_as_one_sort_per_row_gives_them():
    """``strongest`` (the batch's evidence n-grams) equals the plain per-row computation: the
    positive contributions, largest first, equal ones in column order, at most ``top``."""
    import scipy.sparse as sp

    from services.classifier.serving.features import strongest

    rng = np.random.default_rng(7)
    dense = rng.choice([0.0, 0.5, 1.0, 2.0], size=(40, 30), p=[0.6, 0.2, 0.1, 0.1])
    dense[3] = 0.0  # an empty row
    dense[39] = 0.0  # an empty last row
    x = sp.csr_matrix(dense)
    weights = rng.choice([-1.0, 0.5, 1.0, 0.0], size=(3, 30))  # ties on purpose
    labels = rng.integers(0, 3, size=40)

    class Names:
        def __call__(self, column: int) -> str:
            return f"c{column}"

    def reference(row: int, w: np.ndarray, top: int) -> tuple:
        pairs = [
            (c, v * w[c])
            for c, v in zip(
                x.indices[x.indptr[row] : x.indptr[row + 1]],
                x.data[x.indptr[row] : x.indptr[row + 1]],
                strict=True,
            )
        ]
        pairs = sorted((p for p in pairs if p[1] > 0), key=lambda p: (-p[1], p[0]))[:top]
        return tuple((f"c{c}", round(float(v), 3)) for c, v in pairs)

    for top in (1, 5, 40):
        assert strongest(x, weights[0], Names(), top) == [
            reference(r, weights[0], top) for r in range(40)
        ]
        assert strongest(x, weights, Names(), top, labels=labels) == [
            reference(r, weights[labels[r]], top) for r in range(40)
        ]
    assert strongest(sp.csr_matrix((0, 30)), weights[0], Names(), 5) == []
    assert strongest(sp.csr_matrix((2, 30)), weights[0], Names(), 5) == [(), ()]


def test_unusual_vectorisers_fall_back_to_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    union = FeatureUnion(
        [("w", TfidfVectorizer(stop_words=["the"])), ("c", TfidfVectorizer(analyzer="char"))]
    )
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
    probes = texts + [
        "Das ist eine FRECHHEIT!",
        "worst. customer. service. ever",
        "Reporterin der Redaktion hier",
    ]
    for rule_set in rule_sets.values():
        for text in probes:
            if not rule_set._may_phrase(text):
                assert rule_set._phrase_hits(text) == {}, text


# spellings Python's re matches case-insensitively that str.lower() alone would miss or shift
ADVERSARIAL = [
    "ſubscribe to my channel",
    "SUBSCRIBE TO MY CHANNEL",
    "İ want a REFUND now",
    "CANCEL MY ACCOUNT",
    "KÜNDIGUNG",
    "ıch will kündigen",
    "RECHTSANWALT eingeschaltet",
    "\u212aÜNDIGUNG sofort",
    "ΣΥΝ ς σ",
    "İİİ refund",
    "MEIN ANWALT",
    "STRAẞE",
    "I'M LEAVING",
    "Where Is My Parcel?",
    "HELP",
    "www.EXAMPLE.com",
]


def test_rule_prefilter_finds_exactly_what_the_rule_finds(texts):
    from services.classifier.rules.prefilter import fold

    rule_sets = load_dir(ClassifierSettings().rules_dir)
    patterned = [r for rs in rule_sets.values() for r in rs.rules if r.pattern is not None]
    assert patterned and all(
        r.prefilter is not None for r in patterned
    )  # every shipped pattern is accelerated
    for rule in patterned:
        for text in texts + ADVERSARIAL:
            slow, fast = rule.pattern.search(text), rule.prefilter.search(fold(text))
            assert (slow is None) == (fast is None), (rule.id, text)
            if slow is not None:
                assert slow.span() == fast.span(), (rule.id, text)
    for rule_set in rule_sets.values():  # and the matcher's answers are the rules' own
        for text in texts + ADVERSARIAL:
            expected = [
                r.id for r in rule_set.rules if r.pattern is not None and r.pattern.search(text)
            ]
            assert [
                h.rule.id for h in rule_set.match(text) if h.rule.pattern is not None
            ] == expected


def test_every_rule_match_contains_one_of_its_literals(texts):
    from services.classifier.rules.prefilter import fold

    rule_sets = load_dir(ClassifierSettings().rules_dir)
    with_literals = [r for rs in rule_sets.values() for r in rs.rules if r.literals]
    assert len(with_literals) >= 20  # most shipped patterns skip their regexes on most messages
    matched = 0
    for rule in with_literals:
        for text in texts + ADVERSARIAL:
            if rule.pattern.search(text):
                matched += 1
                assert any(literal in fold(text) for literal in rule.literals), (rule.id, text)
    assert matched > 50  # the property was exercised


def test_required_literals_of_small_patterns():
    import re._parser as sre_parse

    from services.classifier.rules.prefilter import required_literals

    def needs(pattern: str):
        return required_literals(sre_parse.parse(pattern))

    assert needs(r"\b(lawyers?|attorneys?)\b") == {"lawyer", "attorney"}
    assert needs(r"\bcancel\w*\s+(my|the)\s+account\b") == {"account"}  # the longest mandatory run
    assert needs(r"\bwhere\s+is\s+my\b|\bhelp\b") == {"where", "help"}
    assert needs(r"(ab|cd)+xyz") == {"xyz"}
    assert needs(r"(?:refund)?\d+") is None  # optional: nothing is required
    assert needs(r"\bhelp\b|\?") is None  # one branch needs no literal
    assert needs(r"(?=abc)d") is None  # a lookahead is not counted


def test_patterns_that_compare_case_otherwise_get_no_prefilter():
    from services.classifier.rules.prefilter import prefilter_for

    assert prefilter_for(r"\brefund\b") is not None
    assert prefilter_for(r"\bRefund\b") is None  # an upper-case literal
    assert prefilter_for(r"(ab)\1") is None  # a back-reference compares case-insensitively
    assert prefilter_for(r"(?-i:abc)") is None  # scoped flags
    assert prefilter_for(r"[A-Z]{2}\d+") is None


def test_fast_probabilities_equal_scikit_learn(texts):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from services.classifier.serving.features import FastProba

    models_dir = ClassifierSettings().models_dir
    spam, tone = SpamModel.load(models_dir, "spam-v1"), TaskModel.load(models_dir, "offense-de-v1")
    fitted = []
    for model in (spam, tone):
        x = model._fast.transform([normalise(t) for t in texts])
        fitted.append((model._clf, x))
    x = fitted[1][1]  # the tone model's features, three labels, two calibration folds averaged
    labels = np.array(["a", "b", "c"])[np.arange(x.shape[0]) % 3]
    fitted.append((CalibratedClassifierCV(LinearSVC(), cv=2).fit(x, labels), x))
    fitted.append(
        (LogisticRegression(max_iter=200).fit(x, labels), x)
    )  # multiclass: asked directly
    for clf, x in fitted:
        fast = FastProba(clf)
        assert np.array_equal(fast.predict_proba(x), clf.predict_proba(x))
    assert [FastProba(clf)._kind for clf, _ in fitted] == [
        "logistic",
        "calibrated",
        "calibrated",
        "direct",
    ]
