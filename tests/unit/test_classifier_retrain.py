"""``retrain``: a candidate that the corrections make better is promoted (new artifact, bumped
version, fingerprint, figures, atomic pointer the runtime loads); one that is worse on a held
evaluation set is refused and the live model stays. Small synthetic data; the check on the real
evaluation sets runs when ../shared/datasets exists."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from services.classifier.feedback import Example
from services.classifier.serving import registry, tasks
from services.classifier.serving.model import SpamModel
from services.classifier.training import cli, retrain, train
from services.classifier.training import task_models as training
from services.classifier.training.datasets import Protocol

SPAMMY = "win free money cash prize click here now claim your bonus winner offer".split()
HAMMY = "great video love this song thanks for sharing nice voice really good music".split()
SERVICE = "my order refund never arrived parcel delivery invoice account please help".split()
T = datetime(2026, 11, 22, tzinfo=UTC)


def sentences(words: list[str], count: int, seed: int, extra: tuple[str, ...] = ()) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(rng.sample(words, 6) + list(extra)) + f" {rng.randint(1, 9)}" for _ in range(count)
    ]


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A live spam-v1 fitted on the synthetic 'shipped' data."""
    texts, labels = base()
    pipeline = train.build_pipeline().fit(texts, labels)
    tasks.save(
        pipeline,
        tmp_path,
        "spam-v1",
        {
            "task": "spam",
            "version": "1.0.0+00000000",
            "training_data_sha256": "0" * 64,
            "rows": {"train": len(texts)},
            "evaluation": {},
        },
    )
    return tmp_path


def base() -> tuple[list[str], list[int]]:
    spam, ham = sentences(SPAMMY, 120, 1), sentences(HAMMY, 120, 2)
    return spam + ham, [1] * len(spam) + [0] * len(ham)


def public_set() -> Protocol:
    texts = sentences(SPAMMY, 40, 3) + sentences(HAMMY, 40, 4)
    labels = ["1"] * 40 + ["0"] * 40
    index = np.arange(80)
    return Protocol(
        "synthetic-spam",
        "spam",
        tuple(texts),
        tuple(labels),
        ((index[::2], index[1::2]),),
        "halves",
    )


def corrections(texts: list[str], decision: str) -> list[Example]:
    return [
        Example(f"fb:acme:{decision}:{i}", text, "en", decision, (), T)
        for i, text in enumerate(texts)
    ]


def quiet(_: str) -> None:
    pass


def test_corrections_that_help_are_promoted_with_a_new_version_and_an_atomic_pointer(
    models_dir: Path,
):
    # customer-service messages that mention prizes and bonuses: the live model calls them spam
    wrongly_dropped = sentences(SPAMMY[:6] + SERVICE, 150, 5, extra=("refund", "order"))
    current = SpamModel.load(models_dir, "spam-v1")
    assert np.mean([s.probability >= 0.5 for s in current.score_batch(wrongly_dropped)]) > 0.3
    texts, labels = base()
    outcome = retrain.retrain_spam(
        texts,
        labels,
        corrections(wrongly_dropped, "reply"),
        models_dir=models_dir,
        protocols=[public_set()],
        recipe=train.build_pipeline,
        progress=quiet,
    )
    assert outcome.promoted, outcome.reason
    held = {f.metric: f for f in outcome.figures if f.set == "held-out corrections"}
    assert held["accuracy"].candidate > held["accuracy"].current
    assert outcome.corrections["held_out"] == held["accuracy"].rows > 0
    assert {f.set for f in outcome.figures} == {"held-out corrections", "synthetic-spam"}
    assert (outcome.name, registry.active(models_dir, "spam")) == ("spam-r1", "spam-r1")
    card = json.loads((models_dir / "spam-r1.json").read_text())
    assert card["version"].startswith("1.1.0+") and card["version"].endswith(
        card["training_data_sha256"][:8]
    )
    assert card["parent"] == {"name": "spam-v1", "version": "1.0.0+00000000"}
    assert (
        card["evaluation"]["retrain"]
        and card["rows"]["corrections_train"] == outcome.corrections["train"]
    )
    promoted = SpamModel.load(
        models_dir, registry.active(models_dir, "spam")
    )  # what the runtime loads
    assert np.mean([s.probability < 0.5 for s in promoted.score_batch(wrongly_dropped)]) > 0.9
    # a second promotion gets the next revision and keeps the history
    again = retrain.retrain_spam(
        texts,
        labels,
        corrections(wrongly_dropped, "reply"),
        models_dir=models_dir,
        protocols=[],
        recipe=train.build_pipeline,
        progress=quiet,
    )
    assert again.promoted and again.name == "spam-r2" and again.current == "spam-r1"
    history = registry.read(models_dir)["history"]
    assert [h["name"] for h in history] == ["spam-r1", "spam-r2"] and history[1][
        "previous"
    ] == "spam-r1"


def test_corrections_that_make_a_held_set_worse_are_refused_and_the_live_model_stays(
    models_dir: Path,
):
    # someone marked obvious spam "was not spam" many times: the held-out corrections agree with
    # them, the public evaluation set does not
    poisoned = sentences(SPAMMY, 200, 6)
    texts, labels = base()
    before = sorted(p.name for p in models_dir.iterdir())
    outcome = retrain.retrain_spam(
        texts,
        labels,
        corrections(poisoned, "reply"),
        models_dir=models_dir,
        protocols=[public_set()],
        recipe=train.build_pipeline,
        progress=quiet,
    )
    assert not outcome.promoted
    [worse] = [f for f in outcome.figures if f.worse(retrain.TOLERANCE)]
    assert worse.set == "synthetic-spam" and worse.candidate < worse.current
    assert "synthetic-spam mcc" in outcome.reason
    assert (
        sorted(p.name for p in models_dir.iterdir()) == before
    )  # nothing written, pointer untouched
    assert registry.active(models_dir, "spam", "spam-v1") == "spam-v1"


def test_dry_run_and_nothing_to_learn_promote_nothing(models_dir: Path):
    texts, labels = base()
    nothing = retrain.retrain_spam(
        texts,
        labels,
        [],
        models_dir=models_dir,
        protocols=[],
        recipe=train.build_pipeline,
        progress=quiet,
    )
    assert not nothing.promoted and "nothing to learn" in nothing.reason
    helpful = corrections(sentences(SPAMMY[:6] + SERVICE, 60, 5, extra=("refund",)), "reply")
    dry = retrain.retrain_spam(
        texts,
        labels,
        helpful,
        models_dir=models_dir,
        protocols=[],
        recipe=train.build_pipeline,
        progress=quiet,
        dry_run=True,
    )
    assert (
        not dry.promoted and "not worse" in dry.reason and not (models_dir / registry.FILE).exists()
    )


def test_task_model_from_corrections_beats_the_majority_label_and_is_promoted(models_dir: Path):
    replies = corrections(sentences(SERVICE, 40, 7), "reply")
    noise = corrections(sentences(HAMMY, 40, 8), "tag")
    outcome = retrain.retrain_task(
        "reply_needed", replies + noise, models_dir=models_dir, progress=quiet
    )
    assert outcome.promoted, outcome.reason
    model = tasks.TaskModel.load(models_dir, registry.active(models_dir, "reply_needed"))
    assert model.predict(["please help my order never arrived 3"]) == ["reply"]
    thin = retrain.retrain_task("sentiment", replies, models_dir=models_dir, progress=quiet)
    assert not thin.promoted and "not enough corrections" in thin.reason


def test_a_shipped_reply_model_is_the_one_to_beat_and_its_data_is_kept(models_dir: Path):
    shipped_texts = sentences(SERVICE, 40, 3) + sentences(HAMMY, 40, 4)
    shipped_labels = ["reply"] * 40 + ["noise"] * 40
    training.train_task(
        shipped_texts,
        shipped_labels,
        task="reply_needed",
        name="reply-needed-v1",
        out=models_dir,
        progress=quiet,
    )
    # the triage review's corrections: noise that needed a reply
    missed = corrections(sentences(HAMMY, 30, 9, extra=("still waiting",)), "reply")
    replies = corrections(sentences(SERVICE, 20, 10), "reply")
    outcome = retrain.retrain_task(
        "reply_needed",
        missed + replies,
        models_dir=models_dir,
        progress=quiet,
        base=(shipped_texts, shipped_labels),
    )
    assert outcome.current == "reply-needed-v1"  # not the majority label: the shipped model is live
    assert outcome.promoted, outcome.reason
    card = json.loads(
        (models_dir / f"{registry.active(models_dir, 'reply_needed')}.json").read_text("utf-8")
    )
    assert card["rows"]["train"] > 80 and any("shipped training data" in s for s in card["sources"])
    model = tasks.TaskModel.load(models_dir, card["name"])
    assert model.predict([sentences(HAMMY, 1, 4)[0]]) == [
        "noise"
    ]  # the shipped noise is not forgotten


def test_held_out_slice_is_stable_and_about_a_fifth():
    keys = [f"fb:acme:{i}" for i in range(2000)]
    held = [k for k in keys if retrain.held_out(k)]
    assert held == [k for k in keys if retrain.held_out(k)] and 300 < len(held) < 500


def test_cli_retrain_reports_a_missing_database_table_clearly(tmp_path: Path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert (
        cli.main(
            ["retrain", "--database-url", url, "--models", str(tmp_path), "--only", "sentiment"]
        )
        == 2
    )
    assert "is the database migrated" in capsys.readouterr().err


def test_absent_evaluation_sets_are_skipped_with_a_message(tmp_path: Path):
    said: list[str] = []
    assert retrain.spam_protocols(tmp_path, said.append) == []
    assert len(said) == 5 and all("skipped: not found" in s for s in said)


@pytest.mark.skipif(
    not (train.DEFAULT_DATASETS / "youtube-spam").is_dir(), reason="../shared/datasets absent"
)
def test_on_a_real_evaluation_set_wrong_corrections_make_the_candidate_worse():
    from services.classifier.training import datasets

    [psy] = [
        p
        for p in retrain.spam_protocols(train.DEFAULT_DATASETS, quiet)
        if p.dataset == "youtube-spam/Psy"
    ]
    katy = datasets.youtube(train.DEFAULT_DATASETS, "KatyPerry")
    wrong = [
        (t, "0") for t, y in zip(katy.texts, katy.labels, strict=True) if y == "1"
    ]  # spam called ham
    [figure] = retrain.public_figures([psy], train.build_pipeline, wrong, quiet)
    assert figure.current > 0.8 and figure.worse(retrain.TOLERANCE), figure
