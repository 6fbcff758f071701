"""``make eval``: dataset readers honour the published splits and traps; the run writes its rows."""

from __future__ import annotations

import csv
import json

import pytest

from services.classifier.training import datasets, evaluate
from services.classifier.training.protocols import macro_f_hm

BOM = "\ufeff"


def _youtube(root, video="Psy"):
    folder = root / "youtube-spam"
    folder.mkdir(parents=True)
    rows = [
        (
            f"id{i}",
            "a",
            "" if i % 2 else "2015-01-01",
            f"comment {i} " + ("check my channel" if i % 2 else "great song") + BOM,
            str(i % 2),
        )
        for i in range(20)
    ]
    with (folder / f"Youtube01-{video}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["COMMENT_ID", "AUTHOR", "DATE", "CONTENT", "CLASS"])
        writer.writerows(rows)


def test_youtube_uses_the_authors_per_class_split_in_file_order_and_never_the_date(tmp_path):
    _youtube(tmp_path)
    protocol = datasets.youtube(tmp_path, "Psy")
    ((train, test),) = protocol.folds
    assert list(train) == [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
    ]  # 7 of 10 per class, in order
    assert list(test) == [14, 15, 16, 17, 18, 19]
    assert not any(BOM in t or "2015" in t for t in protocol.texts)  # the two label leaks


def test_sms_is_deduplicated_before_the_folds(tmp_path):
    (tmp_path / "sms-spam").mkdir()
    lines = [f"ham\tsee you at {i}" for i in range(20)] + ["spam\tWIN a prize now"] * 12
    lines += [f"spam\tWIN prize {i}" for i in range(10)]
    (tmp_path / "sms-spam/SMSSpamCollection").write_text("\n".join(lines), "utf-8")
    protocol = datasets.sms(tmp_path, k=5)
    assert len(protocol.texts) == 31 and protocol.labels.count("1") == 11
    assert sorted(i for _, test in protocol.folds for i in test) == list(range(31))


def test_airline_drops_repeated_ids_texts_and_conflicting_labels(tmp_path):
    (tmp_path / "twitter-airline-sentiment").mkdir()
    rows = [
        ("1", "negative", "Late Flight", "@a late again"),
        ("1", "negative", "Late Flight", "@a late again"),
        ("2", "negative", "Late Flight", "@a same text"),
        ("3", "neutral", "", "@a same text"),
        ("4", "positive", "", "@a thanks"),
        ("5", "positive", "", "@a thanks"),
    ]
    rows += [
        (
            str(10 + i),
            ("negative", "neutral", "positive")[i % 3],
            "Bad Flight" if i % 3 == 0 else "",
            f"@a tweet {i}",
        )
        for i in range(30)
    ]
    with (tmp_path / "twitter-airline-sentiment/Tweets.dev.csv").open(
        "w", encoding="utf-8", newline=""
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(["tweet_id", "airline_sentiment", "negativereason", "text"])
        writer.writerows(rows)
    protocol = datasets.airline(tmp_path, "sentiment")
    assert "@a same text" not in protocol.texts  # conflicting labels: dropped entirely
    assert protocol.texts.count("@a late again") == 1 and protocol.texts.count("@a thanks") == 1
    reasons = datasets.airline(tmp_path, "negative_reason")
    assert set(reasons.labels) == {"Late Flight", "Bad Flight"}


def test_germeval2017_trains_on_dev_and_scores_sentiment_on_every_document(tmp_path):
    (tmp_path / "germeval2017").mkdir()
    doc = "<Document id='{0}'><relevance>{1}</relevance><sentiment>{2}</sentiment><text>t{0}</text></Document>"
    for name, count in (("dev", 3), ("test_syn", 2)):
        body = "".join(
            doc.format(i, "false" if i == 0 else "true", "neutral" if i == 0 else "negative")
            for i in range(count)
        )
        (tmp_path / f"germeval2017/{name}-2017-09-15.xml").write_text(
            f"<Documents>{body}</Documents>", "utf-8"
        )
    protocol = datasets.germeval2017(tmp_path, "sentiment")
    ((train, test),) = protocol.folds
    assert list(train) == [0, 1, 2] and list(test) == [3, 4]
    assert protocol.labels == ("neutral", "negative", "negative", "neutral", "negative")
    assert "all documents" in protocol.notes[0]


def test_macro_f_is_the_harmonic_mean_of_macro_precision_and_recall():
    # P = (1/2 + 1)/2 = 0.75, R = (1 + 1/2)/2 = 0.75 → 0.75; a plain macro-F1 would be 0.6667
    assert macro_f_hm(["a", "b", "b"], ["a", "a", "b"]) == pytest.approx(0.75)


def test_without_the_datasets_folder_make_eval_says_so_and_succeeds(tmp_path, capsys):
    assert (
        evaluate.main(["--datasets", str(tmp_path / "absent"), "--out", str(tmp_path / "r.json")])
        == 0
    )
    assert "no datasets folder" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_a_run_prints_ours_beside_published_and_baseline_and_writes_the_rows(tmp_path, capsys):
    _youtube(tmp_path)
    out = tmp_path / "results.json"
    assert evaluate.main(["--datasets", str(tmp_path), "--out", str(out), "--jobs", "1"]) == 0
    printed = capsys.readouterr()
    assert (
        "youtube-spam/Psy" in printed.out
        and "published" in printed.out
        and "baseline" in printed.out
    )
    assert "skipped" in printed.err  # the other sets are absent here
    rows = json.loads(out.read_text("utf-8"))
    assert [(r["dataset"], r["metric"], r["published"]) for r in rows] == [
        ("youtube-spam/Psy", "mcc", 0.925)
    ]
    assert set(rows[0]) == {
        "dataset",
        "task",
        "metric",
        "ours",
        "published",
        "baseline",
        "split",
        "notes",
    }
    assert rows[0]["ours"] == pytest.approx(1.0)  # perfectly separable toy data
