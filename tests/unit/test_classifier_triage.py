"""The triage report on a small fixed sample of real traffic: a change that drops customers or
buries requests as noise fails here (``evaluate --triage`` gives the full figures)."""

from __future__ import annotations

import json

import pytest

from services.classifier.serving import bundle
from services.classifier.settings import ClassifierSettings
from services.classifier.training import evaluate, triage
from shared.settings import ROOT

DATASETS = ROOT.parent / "shared" / "datasets"
SAMPLE = 400
needs_data = pytest.mark.skipif(
    not (DATASETS / "twcs").is_dir(),
    reason=f"no datasets at {DATASETS}: the triage sample needs ../shared/datasets",
)


@pytest.fixture(scope="module")
def rows():
    models = bundle.load_models(ClassifierSettings())
    return triage.by_stream(triage.evaluate(DATASETS, models, SAMPLE, out_of_fold=False))


@needs_data
def test_customers_are_not_dropped_and_requests_reach_an_agent(rows):
    for stream in ("twcs", "airline", "germeval2017"):
        assert rows[stream]["false_drops"] <= 0.01, (
            stream,
            rows[stream]["examples"]["false_drops"],
        )
    assert rows["twcs"]["reply_recall"] >= 0.9, rows["twcs"]["examples"]["missed_replies"]
    assert rows["airline"]["reply_recall"] >= 0.93, rows["airline"]["examples"]["missed_replies"]


@needs_data
def test_comment_spam_is_still_dropped_and_praise_is_not_all_sent_to_agents(rows):
    pooled = rows["youtube (4 videos)"]
    assert pooled["spam_recall"] >= 0.85 and pooled["false_drops"] <= 0.03
    assert (
        rows["airline"]["no_reply_sent_to_agent"] <= 0.7
    )  # some positive tweets are tagged, not queued


@needs_data
def test_the_report_is_written_and_printed(tmp_path, capsys):
    assert (
        evaluate.main(["--triage", "--sample", "50", "--triage-out", str(tmp_path / "t.json")]) == 0
    )
    report = json.loads((tmp_path / "t.json").read_text("utf-8"))
    assert {r["stream"] for r in report["streams"]} >= {"twcs", "airline", "germeval2017", "sms"}
    assert report["goals"]["false_drops_max"] == 0.005
    assert "false drops" in capsys.readouterr().out


def test_without_datasets_the_triage_report_says_so(tmp_path, capsys):
    assert evaluate.main(["--triage", "--datasets", str(tmp_path / "absent")]) == 0
    assert "no datasets folder" in capsys.readouterr().err
