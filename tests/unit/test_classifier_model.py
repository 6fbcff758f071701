"""Spam model artifact: trusted loading, integrity, normalisation, corpus and training."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from services.classifier.serving.model import (
    NAME,
    SpamModel,
    UntrustedArtifact,
    load_pipeline,
    normalise,
    sha256_file,
)
from services.classifier.settings import ClassifierSettings
from services.classifier.training import corpus, train

SHIPPED = ClassifierSettings().models_dir


def test_shipped_artifact_is_small_and_its_card_is_complete():
    card = json.loads((SHIPPED / f"{NAME}.json").read_text("utf-8"))
    artifact = SHIPPED / card["artifact"]
    assert artifact.stat().st_size < 5_000_000
    assert sha256_file(artifact) == card["artifact_sha256"]
    assert len(card["training_data_sha256"]) == 64 and card["rows"]["train"] > 6000
    assert (
        card["evaluation"]["overall"]["mcc"] > 0.85
        and card["evaluation"]["overall"]["spam_f1"] > 0.85
    )


def test_an_artifact_with_untrusted_types_is_refused(tmp_path):
    evil = tmp_path / "evil.skops"
    sio.dump(Pipeline([("features", FunctionTransformer(func=os.system))]), evil)
    with pytest.raises(UntrustedArtifact, match=r"refusing untrusted types \['posix.system'\]"):
        load_pipeline(evil)
    card = json.loads((SHIPPED / f"{NAME}.json").read_text("utf-8"))
    card.update(artifact=evil.name, artifact_sha256=sha256_file(evil))
    (tmp_path / f"{NAME}.json").write_text(json.dumps(card), "utf-8")
    with pytest.raises(UntrustedArtifact, match="posix.system"):
        SpamModel.load(tmp_path)


def test_an_artifact_that_does_not_match_its_card_is_refused(tmp_path):
    shutil.copy(SHIPPED / f"{NAME}.skops", tmp_path)
    card = json.loads((SHIPPED / f"{NAME}.json").read_text("utf-8"))
    (tmp_path / f"{NAME}.json").write_text(
        json.dumps({**card, "artifact_sha256": "0" * 64}), "utf-8"
    )
    with pytest.raises(UntrustedArtifact, match="sha256 does not match"):
        SpamModel.load(tmp_path)


def test_normalise_strips_markup_and_the_invisible_label_leak():
    raw = 'see <a href="http://x.io/a">this</a><br />Tom &amp; Jerry\ufeff'
    assert normalise(raw) == "see http://x.io/a this Tom & Jerry"
    assert normalise("  a\n\tb  ") == "a b" and normalise("") == ""


def make_datasets(root: Path) -> Path:
    """A tiny corpus in the real layouts: quoted Eminem-style header, DATE column, SMS dups."""
    (root / "youtube-spam").mkdir(parents=True)
    (root / "sms-spam").mkdir()
    rows = ['"COMMENT_ID","AUTHOR","DATE","CONTENT","CLASS"']
    for i in range(30):
        rows.append(f"s{i},a,,check out my channel number {i} and subscribe,1")
        rows.append(f"h{i},b,2015-01-01,this song reminds me of summer {i},0")
    (root / "youtube-spam" / "Youtube04-Eminem.csv").write_text("\n".join(rows) + "\n", "utf-8")
    lines = [f"spam\tWIN a free prize {i} call 0906{i:04d} now" for i in range(30)]
    lines += [f"ham\tsee you at lunch {i} ok" for i in range(30)]
    lines += ["ham\tsee you at lunch 0 ok", "ham\tcontested text", "spam\tcontested text"]
    (root / "sms-spam" / "SMSSpamCollection").write_text("\n".join(lines) + "\n", "utf-8")
    return root


@pytest.fixture
def no_team_examples(monkeypatch, tmp_path):
    monkeypatch.setattr(corpus, "TEAM_EXAMPLES", tmp_path / "absent.csv")


def test_corpus_deduplicates_and_drops_contradictions(tmp_path, no_team_examples):
    loaded = corpus.load(make_datasets(tmp_path))
    assert loaded.raw_rows == {"youtube": 60, "sms": 63}
    assert (loaded.duplicates_dropped, loaded.conflicts_dropped) == (2, 1)
    assert len(loaded.examples) == 120 and sum(loaded.labels) == 60
    assert loaded.fingerprint() == corpus.load(tmp_path).fingerprint()


def test_corpus_adds_german_ham_and_the_team_examples_where_present(tmp_path, monkeypatch):
    root = make_datasets(tmp_path)
    (root / "germeval2018").mkdir()
    (root / "germeval2018" / "germeval2018.training.txt").write_text(
        "Die Bahn ist wieder zu spät\tOTHER\tOTHER\nSo ein Mist heute\tOFFENSE\tPROFANITY\n",
        "utf-8",
    )
    team = tmp_path / "examples.csv"
    team.write_text(
        "text,language,label,sentiment,kind\nKostenlose Follower hier klicken,de,spam,neutral,promotion\n"
        "Seit gestern kein Internet,de,reply,negative,outage\n",
        "utf-8",
    )
    monkeypatch.setattr(corpus, "TEAM_EXAMPLES", team)
    loaded = corpus.load(root)
    assert loaded.raw_rows["germeval2018"] == 2 and loaded.raw_rows["team"] == 2
    labels = {e.text: e.label for e in loaded.examples}
    assert (
        labels["Kostenlose Follower hier klicken"] == 1
        and labels["Seit gestern kein Internet"] == 0
    )
    assert labels["Die Bahn ist wieder zu spät"] == 0
    assert "team" not in corpus.load(root, extra=False).raw_rows


def test_training_round_trips_through_skops(tmp_path, no_team_examples):
    card = train.train(make_datasets(tmp_path / "data"), tmp_path / "out")
    model = SpamModel.load(tmp_path / "out")
    assert model.card.version == card["version"] and card["rows"]["train"] == 120
    assert model.score("check out my channel and subscribe").probability > 0.5
    assert model.score("see you at lunch").probability < 0.5


def test_training_without_datasets_exits_with_a_clear_message(tmp_path, capsys):
    assert train.main(["--datasets", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
    assert "cannot train" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
