"""The spam training corpus: permissively licensed spam collections, German ham, the team's examples.

``youtube-spam/*.csv`` (CC BY 4.0 via UCI; CONTENT and CLASS columns, never DATE, which
leaks the label in the Eminem file) and ``sms-spam/SMSSpamCollection`` (tab-separated
``label\\ttext``) are required. Where present, two more sources teach the model that German is not
spam and what German spam looks like: the GermEval 2018 training tweets (CC BY 4.0) as ham
(``germeval2018``: ordinary German tweets, offensive or not, none of them spam), and the team's own
labelled messages (``services/classifier/data/examples.csv``: ``spam`` rows as spam, the rest ham;
source ``team``). Texts are normalised the way the served model sees them, then
deduplicated across both sets; a text seen with both labels is dropped as contradictory.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from services.classifier.serving.model import fingerprint, normalise

YOUTUBE_GLOB = "youtube-spam/Youtube*.csv"
SMS_FILE = "sms-spam/SMSSpamCollection"
GERMEVAL2018_FILE = "germeval2018/germeval2018.training.txt"
TEAM_EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples.csv"


class CorpusMissing(FileNotFoundError):
    """The datasets folder, or one of the files the model is trained on, is absent."""


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 = spam, 0 = ham
    source: str  # "youtube", "sms", "germeval2018" or "team"


@dataclass(frozen=True)
class Corpus:
    examples: tuple[Example, ...]
    raw_rows: dict[str, int]  # rows read per source, before deduplication
    duplicates_dropped: int
    conflicts_dropped: int

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def labels(self) -> list[int]:
        return [e.label for e in self.examples]

    def fingerprint(self) -> str:
        """sha256 over the deduplicated training texts and labels, in corpus order."""
        return fingerprint(self.texts, self.labels)


def read_youtube(datasets: Path) -> list[Example]:
    """CONTENT and CLASS of every YouTube comment, in file order. DATE is never read."""
    files = sorted(datasets.glob(YOUTUBE_GLOB))
    if not files:
        raise CorpusMissing(f"no {YOUTUBE_GLOB} under {datasets}")
    examples = []
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):  # the Eminem header is quoted; csv copes
                examples.append(Example(row["CONTENT"], int(row["CLASS"]), "youtube"))
    return examples


def read_sms(datasets: Path) -> list[Example]:
    """Every ``label\\ttext`` line of the SMS Spam Collection."""
    path = datasets / SMS_FILE
    if not path.is_file():
        raise CorpusMissing(f"{path} not found")
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition("\t")
        if label in ("ham", "spam"):
            examples.append(Example(text, int(label == "spam"), "sms"))
    return examples


def read_german_ham(datasets: Path) -> list[Example]:
    """Every GermEval 2018 training tweet as ham; ``[]`` when the file is absent."""
    path = datasets / GERMEVAL2018_FILE
    if not path.is_file():
        return []
    return [
        Example(line.split("\t")[0], 0, "germeval2018")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.count("\t") == 2
    ]


def read_team(path: Path | None = None) -> list[Example]:
    """The team's own examples: ``spam`` → 1, ``reply``/``noise`` → 0; ``[]`` when absent."""
    path = TEAM_EXAMPLES if path is None else path
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Example(r["text"], int(r["label"] == "spam"), "team")
            for r in csv.DictReader(handle)
            if r.get("text") and r.get("label") in ("spam", "reply", "noise")
        ]


def load(datasets: Path, extra: bool = True) -> Corpus:
    """Read, normalise and deduplicate the sets (``extra``: with German ham and the team's
    examples where present). Raises ``CorpusMissing``."""
    if not datasets.is_dir():
        raise CorpusMissing(f"datasets folder {datasets} not found")
    raw = read_youtube(datasets) + read_sms(datasets)
    if extra:
        raw += read_german_ham(datasets) + read_team()
    by_text: dict[str, list[Example]] = defaultdict(list)
    for example in raw:
        by_text[normalise(example.text)].append(example)
    empty = len(by_text.pop("", ()))
    kept, conflicts = [], 0
    for text, group in by_text.items():
        if len({e.label for e in group}) > 1:
            conflicts += 1
            continue
        kept.append(Example(text, group[0].label, group[0].source))
    return Corpus(
        examples=tuple(kept),
        raw_rows=dict(Counter(e.source for e in raw)),
        duplicates_dropped=len(raw) - empty - len(by_text),
        conflicts_dropped=conflicts,
    )
