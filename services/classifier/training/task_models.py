"""Train and score a task model on any labelled texts (the user's own data, corrections, GermEval 2018).

``train_task`` measures first — ``recipes.fit_ours`` fitted on a stratified 80 % and scored
on the other 20 % (skipped when a class has fewer than 5 rows) — then refits on every row
and writes ``<name>.skops`` + ``<name>.json`` whose card carries the version, the training-data
fingerprint, the hold-out figures and the chosen parameters. Deterministic (fixed seeds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from sklearn.model_selection import train_test_split

from services.classifier.serving import tasks
from services.classifier.serving.model import ModelCard, normalise
from services.classifier.training import recipes
from services.classifier.training.protocols import macro_f_hm

HOLDOUT = 0.2
MIN_PER_CLASS = 5
Progress = Callable[[str], None]


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    """The figures every card and ``evaluate`` report."""
    return {
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro", zero_division=0)), 4),
        "macro_f_hm": round(macro_f_hm(y_true, y_pred), 4),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "mcc": round(float(matthews_corrcoef(y_true, y_pred)), 4),
        "per_class_f1": dict(
            zip(
                sorted(set(y_true)),
                (
                    round(float(v), 4)
                    for v in f1_score(
                        y_true, y_pred, labels=sorted(set(y_true)), average=None, zero_division=0
                    )
                ),
            )
        ),
        "rows": len(y_true),
    }


def holdout(
    texts: list[str],
    labels: list[str],
    progress: Progress,
    language: str | None = None,
    word_min_df: int = 1,
) -> dict:
    """Fit on a stratified 80 %, score the other 20 %; {} when the data is too small."""
    if min(Counter(labels).values()) < MIN_PER_CLASS:
        progress(f"hold-out skipped: a class has fewer than {MIN_PER_CLASS} rows")
        return {}
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=HOLDOUT, random_state=recipes.SEED, stratify=labels
    )
    progress(f"hold-out: fitting on {len(x_train)} rows, scoring {len(x_test)}")
    pipeline, _ = recipes.fit_ours(x_train, y_train, macro_f_hm, language, word_min_df)
    return {
        "protocol": f"stratified {HOLDOUT:.0%} hold-out, seed {recipes.SEED}; fit on the other rows",
        **scores(y_test, list(pipeline.predict(x_test))),
    }


def train_task(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    task: str,
    name: str,
    out: Path,
    progress: Progress,
    version: str = "1.0",
    extra: dict | None = None,
    language: str | None = None,
    word_min_df: int = 1,
) -> ModelCard:
    """Measure on a hold-out, refit on all rows, save. ``extra`` goes into the card as is;
    ``language`` (of the texts, when known) lets the recipe try spaCy lemma features."""
    texts = [normalise(t) for t in texts]
    labels = [str(label) for label in labels]
    digest = tasks.fingerprint(texts, labels)
    progress(f"{task}: {len(texts)} rows, labels {dict(Counter(labels))}")
    evaluation = holdout(texts, labels, progress, language, word_min_df)
    progress(f"fitting {name} on all {len(texts)} rows")
    pipeline, params = recipes.fit_ours(texts, labels, macro_f_hm, language, word_min_df)
    card = {
        "task": task,
        "version": f"{version}+{digest[:8]}",
        "training_data_sha256": digest,
        "rows": {
            "train": len(texts),
            **{f"label:{k}": v for k, v in sorted(Counter(labels).items())},
        },
        "labels": sorted(set(labels)),
        "evaluation": evaluation,
        "params": params,
        **(extra or {}),
    }
    saved = tasks.save(pipeline, out, name, card)
    progress(f"wrote {out / saved.artifact} ({saved.model_extra.get('artifact_bytes')} bytes)")
    return saved


def score_model(model: tasks.TaskModel, texts: Sequence[str], labels: Sequence[str]) -> dict:
    """A loaded model's figures on labelled texts (labels it does not know count as errors)."""
    predicted = []
    for start in range(0, len(texts), 1000):  # bounded memory on large files
        predicted += model.predict(list(texts[start : start + 1000]))
    return scores([str(label) for label in labels], predicted) | {
        "labels_unknown_to_model": sorted(set(map(str, labels)) - set(model.classes))
    }
