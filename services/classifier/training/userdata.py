"""Reading a user's own files for the ``train``, ``evaluate`` and ``classify`` commands.

CSV (header row) or JSONL (one object per line), chosen by the file suffix (``.jsonl``,
``.ndjson`` or ``.json`` → JSONL, anything else → CSV). Errors are ``InputError`` with a
message naming the file, the line and the missing column, never a traceback.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class InputError(ValueError):
    """The input file is missing, unreadable, or lacks a column the command needs."""


def records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) for every row of a CSV or JSONL file."""
    if not path.is_file():
        raise InputError(f"input file {path} not found")
    if path.suffix.lower() in JSONL_SUFFIXES:
        yield from _jsonl(path)
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise InputError(f"{path}: empty CSV file (a header row is required)")
        for row in reader:
            yield reader.line_num, row


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{number}: expected a JSON object per line")
            yield number, record


def read_labelled(path: Path, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    """Texts and labels; rows with an empty text or label are skipped. Raises ``InputError``
    naming the first row without one of the columns, or when fewer than two labels remain."""
    texts, labels = [], []
    for number, record in records(path):
        for column in (text_column, label_column):
            if column not in record:
                raise InputError(
                    f"{path}:{number}: no column {column!r} (columns: {sorted(record)}); "
                    "use --text-column / --label-column"
                )
        text, label = record[text_column], record[label_column]
        if text in (None, "") or label in (None, ""):
            continue
        texts.append(str(text))
        labels.append(str(label))
    if len(set(labels)) < 2:
        raise InputError(
            f"{path}: need at least two different labels in {label_column!r}, found {sorted(set(labels))}"
        )
    return texts, labels
