"""What ``make eval`` measures: each published protocol, its metrics and the published figures.

A ``Spec`` names a dataset reader (``datasets``), the metric the shared task or paper used
(the first in ``metrics``; ours is tuned on it) and the best published figure for each metric
(``None`` where nothing comparable was published). Figures are copied from
``../shared/datasets/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sklearn.metrics import (
    accuracy_score,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
)

from services.classifier.training import datasets


def macro_f_hm(y_true, y_pred) -> float:
    """GermEval 2018's macro-F: harmonic mean of macro-precision and macro-recall."""
    p = precision_score(y_true, y_pred, average="macro", zero_division=0)
    r = recall_score(y_true, y_pred, average="macro", zero_division=0)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


METRICS: dict[str, Callable] = {
    "mcc": matthews_corrcoef,
    "spam_f1": partial(f1_score, pos_label="1", zero_division=0),
    "accuracy": accuracy_score,
    "micro_f1": partial(f1_score, average="micro"),
    "macro_f1": partial(f1_score, average="macro", zero_division=0),
    "macro_f_hm": macro_f_hm,
}


@dataclass(frozen=True)
class Spec:
    load: Callable[[Path], datasets.Protocol]
    metrics: tuple[str, ...]
    published: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    language: str = "en"  # of the texts: the recipe's spaCy lemma features need it


_YT_BEST = {
    "Psy": (0.925, "count BoW"),
    "KatyPerry": (0.893, "TF-IDF"),
    "LMFAO": (0.970, "TF-IDF"),
    "Eminem": (0.941, "count BoW"),
}

SPECS: tuple[Spec, ...] = (
    *(
        Spec(
            partial(datasets.youtube, video=v),
            ("mcc",),
            {"mcc": _YT_BEST[v][0]},
            [f"published: authors' best ({_YT_BEST[v][1]})"],
        )
        for v in datasets.YOUTUBE_VIDEOS
    ),
    Spec(
        datasets.sms,
        ("mcc", "spam_f1", "accuracy"),
        {"mcc": 0.89, "spam_f1": None, "accuracy": 0.976},
        ["published: Almeida et al. 2011 linear SVM on their own split, not deduplicated"],
    ),
    Spec(
        partial(datasets.germeval2017, task="relevance"),
        ("micro_f1",),
        {"micro_f1": 0.90},
        [
            (
                "published: best 2017 team, trained on the 19,432-doc train set we do not have; "
                "organisers' SVM 0.85, majority 0.816"
            )
        ],
        language="de",
    ),
    Spec(
        partial(datasets.germeval2017, task="sentiment"),
        ("micro_f1",),
        {"micro_f1": 0.75},
        [
            "published: best 2017 team, trained on the 19,432-doc train set; organisers' SVM 0.67, majority 0.655"
        ],
        language="de",
    ),
    Spec(
        datasets.germeval2018,
        ("macro_f_hm",),
        {"macro_f_hm": 0.7677},
        [
            "published: best team on the official test set (trained on this whole file); ours is CV on it"
        ],
        language="de",
    ),
    Spec(
        partial(datasets.airline, task="sentiment"),
        ("accuracy", "macro_f1"),
        {"accuracy": 0.88, "macro_f1": None},
        ["published: fine-tuned transformers 0.85-0.88; TF-IDF + linear SVM 0.79; majority 0.627"],
    ),
    Spec(
        partial(datasets.airline, task="negative_reason"),
        ("accuracy", "macro_f1"),
        {"accuracy": None, "macro_f1": None},
        ["no published figure on this split"],
    ),
)
