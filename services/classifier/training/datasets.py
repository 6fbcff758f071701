"""Readers and fixed splits for the public evaluation sets in ``../shared/datasets``.

Every reader returns a ``Protocol``: the texts and labels of one dataset/task and its folds
(index pairs), so a single hold-out split and k-fold cross-validation are scored the same way.
Splits are deterministic (file order or a fixed seed) and every trap the datasets README lists
is handled here: YouTube DATE is never read and U+FEFF is stripped (``model.normalise``);
SMS and airline rows are deduplicated before splitting, conflicting airline labels dropped.
The non-commercial sets (GermEval 2017, airline) are read for evaluation only.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from services.classifier.serving.model import normalise

SEED = 20240601
YOUTUBE_VIDEOS = ("Psy", "KatyPerry", "LMFAO", "Eminem")
Fold = tuple[np.ndarray, np.ndarray]  # (train indices, test indices)


class DatasetMissing(FileNotFoundError):
    """A file a protocol needs is absent."""


@dataclass(frozen=True)
class Protocol:
    """One dataset/task: texts, labels, folds over them, and how the split was made."""

    dataset: str
    task: str
    texts: tuple[str, ...]
    labels: tuple[str, ...]
    folds: tuple[Fold, ...]
    split: str
    notes: list[str] = field(default_factory=list)


def _need(path: Path) -> Path:
    if not path.exists():
        raise DatasetMissing(f"{path} not found")
    return path


def _holdout(labels: list[str], test_size: float) -> tuple[Fold, ...]:
    index = np.arange(len(labels))
    train, test = train_test_split(index, test_size=test_size, random_state=SEED, stratify=labels)
    return ((np.sort(train), np.sort(test)),)


def _kfold(labels: list[str], k: int) -> tuple[Fold, ...]:
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=SEED)
    return tuple(splitter.split(np.zeros(len(labels)), labels))


def youtube(root: Path, video: str) -> Protocol:
    """The authors' split: per class, in file order, the first 70 % (floor) trains."""
    path = _need(next(iter(sorted(root.glob(f"youtube-spam/Youtube0*-{video}.csv"))), root / video))
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [(normalise(r["CONTENT"]), r["CLASS"]) for r in csv.DictReader(handle)]  # never DATE
    train, test = [], []
    for label in ("1", "0"):
        members = [i for i, (_, y) in enumerate(rows) if y == label]
        cut = int(len(members) * 0.7)
        train += members[:cut]
        test += members[cut:]
    return Protocol(
        "youtube-spam/" + video,
        "spam",
        tuple(t for t, _ in rows),
        tuple(y for _, y in rows),
        ((np.array(sorted(train)), np.array(sorted(test))),),
        "per class, file order: first 70 % train, rest test (authors' split_dataset.py)",
    )


def sms(root: Path, k: int = 5) -> Protocol:
    """Deduplicated on the normalised text (first occurrence kept), stratified k-fold CV."""
    seen: dict[str, str] = {}
    for line in _need(root / "sms-spam/SMSSpamCollection").read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition("\t")
        seen.setdefault(normalise(text), "1" if label == "spam" else "0")
    labels = list(seen.values())
    return Protocol(
        "sms-spam",
        "spam",
        tuple(seen),
        tuple(labels),
        _kfold(labels, k),
        f"deduplicated ({len(labels)} texts), stratified {k}-fold CV, seed {SEED}",
    )


def _germeval2017_docs(path: Path) -> list[tuple[str, str, str]]:
    """(text, relevance, sentiment) per document of a GermEval 2017 XML file."""
    return [
        (
            normalise(doc.findtext("text") or ""),
            doc.findtext("relevance") or "",
            doc.findtext("sentiment") or "",
        )
        for doc in ET.parse(_need(path)).getroot().iter("Document")
    ]


def germeval2017(root: Path, task: str) -> Protocol:
    """Train on dev (the 19k train set is not available), test on test_syn; ``task`` is
    ``relevance`` (Task A) or ``sentiment`` (Task B, scored on all documents, as the shared task)."""
    dev = _germeval2017_docs(root / "germeval2017/dev-2017-09-15.xml")
    test = _germeval2017_docs(root / "germeval2017/test_syn-2017-09-15.xml")
    column = 1 if task == "relevance" else 2
    docs = dev + test
    fold = (np.arange(len(dev)), np.arange(len(dev), len(docs)))
    split = f"train dev ({len(dev)}), test test_syn ({len(test)})"
    notes = (
        [
            "sentiment scored on all documents (non-relevant ones are labelled neutral), as the shared task did"
        ]
        if task == "sentiment"
        else []
    )
    return Protocol(
        "germeval2017",
        task,
        tuple(d[0] for d in docs),
        tuple(d[column] for d in docs),
        (fold,),
        split,
        notes,
    )


def germeval2018(root: Path, k: int = 10) -> Protocol:
    """Task 1 (OFFENSE/OTHER) on the training file, stratified k-fold CV."""
    texts, labels = [], []
    for line in (
        _need(root / "germeval2018/germeval2018.training.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    ):
        parts = line.split("\t")
        if len(parts) == 3:
            texts.append(normalise(parts[0]))
            labels.append(parts[1])
    return Protocol(
        "germeval2018",
        "offense",
        tuple(texts),
        tuple(labels),
        _kfold(labels, k),
        f"training file ({len(labels)} tweets), stratified {k}-fold CV, seed {SEED}",
    )


def _airline_rows(root: Path) -> tuple[list[tuple[str, str, str]], int]:
    """(text, sentiment, negative reason), unique by tweet_id and by text; ids or texts seen
    with different labels are dropped entirely. Returns the rows and how many were dropped."""
    with _need(root / "twitter-airline-sentiment/Tweets.dev.csv").open(
        encoding="utf-8", newline=""
    ) as handle:
        raw = [
            (r["tweet_id"], normalise(r["text"]), r["airline_sentiment"], r["negativereason"])
            for r in csv.DictReader(handle)
        ]
    labels_by: dict[str, set] = defaultdict(set)
    for tweet_id, text, sentiment, reason in raw:
        labels_by["id:" + tweet_id].add((sentiment, reason))
        labels_by["text:" + text].add((sentiment, reason))
    kept, seen = [], set()
    for tweet_id, text, sentiment, reason in raw:
        if len(labels_by["id:" + tweet_id]) > 1 or len(labels_by["text:" + text]) > 1:
            continue
        if tweet_id in seen or text in seen:
            continue
        seen.update((tweet_id, text))
        kept.append((text, sentiment, reason))
    return kept, len(raw) - len(kept)


def airline(root: Path, task: str) -> Protocol:
    """A fixed stratified 80/20 split of the deduplicated Tweets.dev.csv; ``task`` is
    ``sentiment`` or ``negative_reason`` (negative tweets with a reason, same split)."""
    rows, dropped = _airline_rows(root)
    ((train, test),) = _holdout([r[1] for r in rows], 0.2)
    split = (
        f"deduplicated Tweets.dev.csv ({len(rows)} kept, {dropped} duplicate or conflicting rows dropped), "
        f"stratified 80/20 by sentiment, seed {SEED}"
    )
    if task == "sentiment":
        return Protocol(
            "twitter-airline",
            task,
            tuple(r[0] for r in rows),
            tuple(r[1] for r in rows),
            ((train, test),),
            split,
        )
    keep = np.array([i for i, r in enumerate(rows) if r[1] == "negative" and r[2]])
    remap = {old: new for new, old in enumerate(keep)}
    fold = (
        np.array([remap[i] for i in train if i in remap]),
        np.array([remap[i] for i in test if i in remap]),
    )
    return Protocol(
        "twitter-airline",
        task,
        tuple(rows[i][0] for i in keep),
        tuple(rows[i][2] for i in keep),
        (fold,),
        split + "; negative tweets with a reason only",
    )
