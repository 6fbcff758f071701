"""Task models and the user-facing commands: train, evaluate, classify on the user's own files."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from services.classifier.serving import tasks
from services.classifier.serving.model import UntrustedArtifact, sha256_file
from services.classifier.settings import ClassifierSettings
from services.classifier.training import cli
from services.classifier.training import task_models as training

WORDS = {
    "billing": "invoice charged twice refund money bill",
    "delivery": "parcel late courier tracking arrived package",
    "praise": "thanks great lovely helpful wonderful team",
}


def _rows(n_per_label: int = 20) -> list[dict]:
    rows = []
    for label, words in WORDS.items():
        vocab = words.split()
        for i in range(n_per_label):
            rows.append(
                {"body": f"{vocab[i % 6]} {vocab[(i + 2) % 6]} message {i}", "reason": label}
            )
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    rows = _rows()
    card = training.train_task(
        [r["body"] for r in rows],
        [r["reason"] for r in rows],
        task="contact_reason",
        name="contact_reason",
        out=out,
        progress=lambda _: None,
    )
    return out, card


def test_a_trained_model_carries_version_fingerprint_and_evaluation_and_loads_back(trained):
    out, card = trained
    assert card.version.startswith("1.0+") and len(card.training_data_sha256) == 64
    assert card.evaluation["rows"] == 12 and card.evaluation["macro_f1"] > 0.8
    model = tasks.load_task_model(out, "contact_reason")
    assert model.classes == ("billing", "delivery", "praise")
    probabilities = model.predict_proba(["my parcel is late", "charged twice, refund please"])
    assert probabilities.shape == (2, 3) and probabilities.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert model.predict(["my parcel is late"]) == ["delivery"]
    why = model.explain("the courier tracking says arrived")
    assert why.label == "delivery" and any(
        "courier" in name or "tracking" in name for name, _ in why.features
    )


def test_retraining_on_the_same_rows_gives_the_same_fingerprint(trained, tmp_path):
    rows = _rows()
    card = training.train_task(
        [r["body"] for r in rows],
        [r["reason"] for r in rows],
        task="contact_reason",
        name="again",
        out=tmp_path,
        progress=lambda _: None,
    )
    assert card.training_data_sha256 == trained[1].training_data_sha256


def test_tampered_or_untrusted_artifacts_are_refused(trained, tmp_path):
    out, _ = trained
    shutil.copy(out / "contact_reason.skops", tmp_path)
    card = json.loads((out / "contact_reason.json").read_text("utf-8"))
    (tmp_path / "contact_reason.json").write_text(
        json.dumps({**card, "artifact_sha256": "0" * 64}), "utf-8"
    )
    with pytest.raises(UntrustedArtifact, match="sha256"):
        tasks.load_task_model(tmp_path, "contact_reason")
    evil = tmp_path / "evil.skops"
    sio.dump(Pipeline([("features", FunctionTransformer(func=os.system))]), evil)
    (tmp_path / "evil.json").write_text(
        json.dumps({**card, "artifact": evil.name, "artifact_sha256": sha256_file(evil)}), "utf-8"
    )
    with pytest.raises(UntrustedArtifact, match="posix.system"):
        tasks.load_task_model(tmp_path, "evil")


def test_train_and_evaluate_commands_read_jsonl_and_csv(tmp_path, capsys):
    rows = _rows()
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    args = [
        "--task",
        "reason",
        "--input",
        str(data),
        "--text-column",
        "body",
        "--label-column",
        "reason",
    ]
    assert cli.main(["train", *args, "--out", str(tmp_path / "m")]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "reason"
    csv_file = tmp_path / "labelled.csv"
    csv_file.write_text(
        "body,reason\n" + "".join(f"{r['body']},{r['reason']}\n" for r in rows), "utf-8"
    )
    assert (
        cli.main(
            [
                "evaluate",
                *args[:2],
                "--input",
                str(csv_file),
                "--text-column",
                "body",
                "--label-column",
                "reason",
                "--models",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rows"] == len(rows) and "scoring reason" in captured.err


def test_commands_name_the_missing_column_or_file(tmp_path, capsys):
    data = tmp_path / "labelled.csv"
    data.write_text("text,label\nhello,a\n", "utf-8")
    assert cli.main(["train", "--task", "t", "--input", str(data), "--label-column", "reason"]) == 2
    assert "no column 'reason'" in capsys.readouterr().err
    assert cli.main(["train", "--task", "t", "--input", str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv not found" in capsys.readouterr().err
    assert (
        cli.main(["evaluate", "--task", "t", "--input", str(data), "--models", str(tmp_path)]) == 2
    )
    assert "t.json not found" in capsys.readouterr().err


def test_classify_runs_the_full_stage_over_plain_and_canonical_messages(tmp_path, capsys):
    if not (ClassifierSettings().models_dir / "spam-v1.skops").exists():
        pytest.skip("shipped spam model absent")
    source = tmp_path / "messages.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                {
                    "id": "a",
                    "text": "Check out my channel and subscribe for free iPhone giveaway!!!",
                },
                {
                    "id": "b",
                    "text": "Ich will meinen Vertrag kündigen, niemand antwortet.",
                    "language": "de",
                },
            )
        )
        + "\n",
        "utf-8",
    )
    target = tmp_path / "decisions.jsonl"
    assert cli.main(["classify", "--input", str(source), "--output", str(target)]) == 0
    out = [json.loads(line) for line in target.read_text("utf-8").splitlines()]
    assert [o["message_key"] for o in out] == ["generic:bulk:a", "generic:bulk:b"]
    assert out[0]["classification"]["decision"] == "drop"
    assert (
        out[1]["classification"]["decision"] != "drop"
        and out[1]["classification"]["language"] == "de"
    )
    assert out[0]["classification"]["explanation"]["model"] == "spam"
    assert "wrote 2 decisions" in capsys.readouterr().err
