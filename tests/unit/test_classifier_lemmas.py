"""spaCy tokens and lemmas as model features: the tokenizer, its pruning (transforms unchanged),
the fast transform, and a model using them saved and loaded through the skops allow-list."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from services.classifier.lemmas import LemmaTokenizer, has_table
from services.classifier.serving import tasks
from services.classifier.serving.features import FastUnion
from services.classifier.serving.model import (
    UntrustedArtifact,
    load_pipeline,
    normalise,
)
from services.classifier.training import recipes
from tools import replay

UNSEEN = [
    "Ich KÜNDIGE, gekündigt wird sofort!",
    "Founded, found, saw, leaves — refunds?? 😡",
    "",
    "   ",
    "İstanbul",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [normalise(r["text"]) for r in replay.load()]


def test_tokens_are_spacy_tokens_mapped_to_their_lemmas():
    german = LemmaTokenizer("de")
    assert german("Ich habe GEKÜNDIGT, kündige sofort!") == [
        "ich",
        "habe",
        "kündigen",
        ",",
        "kündigen",
        "sofort",
        "!",
    ]
    english = LemmaTokenizer("en")
    assert english("Refunds were cancelled  \n by lawyers") == [
        "refund",
        "be",
        "cancel",
        "by",
        "lawyer",
    ]
    assert english("zzqx www.example.com") == [
        "zzqx",
        "www.example.com",
    ]  # unknown tokens stay, URLs whole
    assert has_table("de") and has_table("en") and not has_table("xx")


def test_pruned_tokenizer_gives_the_same_features_as_the_full_table(texts):
    full = recipes.features("lemmas", "en").fit(texts)
    pruned = recipes._pruned(recipes.features("lemmas", "en").fit(texts))
    tokenizer = pruned.transformer_list[0][1].tokenizer
    assert 0 < len(tokenizer.table) < len(full.transformer_list[0][1].tokenizer.table) / 5
    batch = texts[:50] + UNSEEN
    assert (full.transform(batch) != pruned.transform(batch)).nnz == 0


def test_fast_transform_with_lemmas_equals_scikit_learn(texts):
    union = recipes._pruned(recipes.features("lemmas", "de").fit(texts))
    fast = FastUnion(union)
    assert fast.accelerated
    for batch in (texts, ["", *UNSEEN], ["Die Kündigung!"]):
        expected, got = union.transform(batch).tocsr(), fast.transform(batch)
        expected.sort_indices()
        assert np.array_equal(expected.indices, got.indices) and np.array_equal(
            expected.indptr, got.indptr
        )
        assert np.array_equal(expected.data, got.data)


def test_a_model_with_lemma_features_saves_and_loads_through_the_allow_list(texts, tmp_path):
    labels = ["check" if "check" in t.lower() else "other" for t in texts]  # 67 of 440
    union = recipes._pruned(recipes.features("lemmas", "en").fit(texts))
    clf = CalibratedClassifierCV(LinearSVC(random_state=1), method="sigmoid", cv=2, ensemble=False)
    pipeline = Pipeline([("features", union), ("clf", clf.fit(union.transform(texts), labels))])
    card = tasks.save(
        pipeline,
        tmp_path,
        "reason",
        {
            "task": "contact_reason",
            "version": "1.0+test",
            "training_data_sha256": "0" * 64,
            "rows": {"train": len(texts)},
            "labels": sorted(set(labels)),
            "evaluation": {},
        },
    )
    model = tasks.TaskModel.load(tmp_path, "reason")
    assert model._fast.accelerated
    answer = model.score_batch(["Checking: checks checked, check it out"])[0]
    assert answer.label == "check" and any(
        name.startswith("word:check") for name, _ in answer.features
    )
    assert model.predict(texts[:40]) == list(pipeline.predict(texts[:40]))
    with pytest.raises(UntrustedArtifact, match="LemmaTokenizer"):
        load_pipeline(
            tmp_path / card.artifact,
            tasks.ALLOWED_TYPES - {"services.classifier.lemmas.LemmaTokenizer"},
        )


def test_inner_cv_offers_lemmas_only_for_a_language_with_a_table():
    assert "lemmas" in recipes.variants(500, "de") and "lemmas" in recipes.variants(5000, "en")
    assert recipes.variants(500, None) == ("ngrams", "plain") and recipes.variants(5000, "xx") == (
        "ngrams",
    )
    with pytest.raises(ValueError, match="language"):
        recipes.features("lemmas")
