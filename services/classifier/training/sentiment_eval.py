"""Measure the shipped sentiment (services/classifier/signals/sentiment.py) on the dev-visible sets, evaluation only.

``python -m services.classifier.training.sentiment_eval [--datasets DIR]`` prints, as JSON:
* airline tweets (Tweets.dev.csv, English, deduplicated by tweet_id): label accuracy and macro-F1 against
  ``airline_sentiment``, the AUC of the compound for negative vs positive tweets, and the majority baseline;
* GermEval 2017 test_syn (German, relevant rows only): macro-F1 and accuracy against the document sentiment,
  the AUC negative vs positive, and the majority baseline;
* the rate of ``scores`` on 2,000 tweets (1,000 airline tweets, 1,000 GermEval rows from twitter.com), one call,
  after a warm-up; and on GermEval's first 1,000 relevant documents (news snippets too: 3.5× longer on average).
Both sets are non-commercial: they measure, nothing is fitted on them.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

from services.classifier.signals import sentiment

DEFAULT_DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
LABELS = ("negative", "neutral", "positive")


def airline(datasets: Path) -> tuple[list[str], list[str]]:
    path = datasets / "twitter-airline-sentiment" / "Tweets.dev.csv"
    seen: set[str] = set()
    texts, gold = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["tweet_id"] in seen or row["airline_sentiment"] not in LABELS:
                continue
            seen.add(row["tweet_id"])
            texts.append(row["text"])
            gold.append(row["airline_sentiment"])
    return texts, gold


def germeval(datasets: Path, tweets_only: bool = False) -> tuple[list[str], list[str]]:
    path = datasets / "germeval2017" / "test_syn.tsv"
    texts, gold = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 4 or row[2].strip().lower() != "true" or row[3] not in LABELS:
                continue
            if tweets_only and "twitter.com/" not in row[0]:
                continue
            texts.append(row[1])
            gold.append(row[3])
    return texts, gold


def measure(texts: list[str], gold: list[str], language: str) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    compounds = sentiment.scores(texts, [language] * len(texts))
    predicted = [sentiment.label(c) for c in compounds]
    majority = Counter(gold).most_common(1)[0][0]
    polar = [(c, g == "positive") for c, g in zip(compounds, gold) if g != "neutral"]
    return {
        "rows": len(texts),
        "gold": dict(sorted(Counter(gold).items())),
        "predicted": dict(sorted(Counter(predicted).items())),
        "accuracy": round(accuracy_score(gold, predicted), 4),
        "macro_f1": round(f1_score(gold, predicted, labels=list(LABELS), average="macro"), 4),
        "auc_negative_vs_positive": round(
            roc_auc_score([p for _, p in polar], [c for c, _ in polar]), 4
        ),
        "majority_baseline": {
            "label": majority,
            "accuracy": round(accuracy_score(gold, [majority] * len(gold)), 4),
            "macro_f1": round(
                f1_score(gold, [majority] * len(gold), labels=list(LABELS), average="macro"), 4
            ),
            "auc_negative_vs_positive": 0.5,
        },
    }


def rate(texts: list[str], languages: list[str], repeats: int = 3) -> float:
    """Messages per second of one ``scores`` call over ``texts`` (best of ``repeats``, after a warm-up)."""
    sentiment.scores(texts[:50], languages[:50])
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        sentiment.scores(texts, languages)
        best = min(best, time.perf_counter() - t)
    return len(texts) / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m services.classifier.training.sentiment_eval",
        description=__doc__.split("\n")[0],
    )
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = ap.parse_args(argv)
    if (
        not (args.datasets / "twitter-airline-sentiment").is_dir()
        or not (args.datasets / "germeval2017").is_dir()
    ):
        print(
            f"{args.datasets}: the airline and GermEval 2017 sets are absent; nothing measured",
            file=sys.stderr,
        )
        return 0
    en_texts, en_gold = airline(args.datasets)
    de_texts, de_gold = germeval(args.datasets)
    de_tweets = germeval(args.datasets, tweets_only=True)[0][:1000]
    mixed = en_texts[:1000] + de_tweets
    languages = ["en"] * 1000 + ["de"] * 1000
    report = {
        "airline_en": measure(en_texts, en_gold, "en"),
        "germeval2017_de": measure(de_texts, de_gold, "de"),
        "rate_messages_per_s": {
            "mixed_2000": round(rate(mixed, languages)),
            "en_1000": round(rate(en_texts[:1000], ["en"] * 1000)),
            "de_1000": round(rate(de_tweets, ["de"] * len(de_tweets))),
            "de_1000_documents": round(rate(de_texts[:1000], ["de"] * 1000)),
        },
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
