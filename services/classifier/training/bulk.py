"""Bulk classification of a JSONL file with the full classifier stage.

Each input line is either a whole ``CanonicalMessage`` (as the ingestor emits it) or any
object with a text field; the latter becomes a generic public comment (its ``id`` field, or
the line number, is the message id) so a plain export can be classified too. Each output line
is ``{"line", "message_key", "text", "classification"}`` with the decision, tags, urgency,
scores and explanation. Models load once through ``bundle.load_models``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from services.classifier import stage
from services.classifier.serving import bundle
from services.classifier.settings import ClassifierSettings
from services.classifier.training import userdata
from shared.events import CanonicalMessage

PROGRESS_EVERY = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_message(record: dict, number: int, text_column: str) -> CanonicalMessage:
    """A full message when the record is one, else a generic public comment from its text."""
    try:
        return CanonicalMessage.model_validate(record)
    except ValidationError:
        pass
    if not isinstance(record.get(text_column), str):
        raise userdata.InputError(
            f"line {number}: neither a CanonicalMessage nor an object with a "
            f"string {text_column!r} field (use --text-column)"
        )
    ident = str(record.get("id") or number)
    return CanonicalMessage(
        platform="generic",
        channel_kind="public_comment",
        source="bulk",
        account_id="bulk",
        conversation_id=ident,
        platform_message_id=ident,
        author={"id": str(record.get("author") or "unknown")},
        text=record[text_column],
        language_hint=record.get("language"),
        created_at=_EPOCH,
    )


def classify_file(
    source: Path, target: Path, text_column: str, progress: Callable[[str], None]
) -> int:
    """Classify every record of ``source`` into ``target``. Returns how many were written."""
    if not source.is_file():  # before the second it takes to load the models
        raise userdata.InputError(f"input file {source} not found")
    models = bundle.load_models(ClassifierSettings())
    progress(f"models loaded: {json.dumps(models.describe().get('spam', {}).get('version'))}")
    count = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        for number, record in userdata.records(source):
            message = to_message(record, number, text_column)
            result = stage.classify(message, models)
            out.write(
                json.dumps(
                    {
                        "line": number,
                        "message_key": message.message_key,
                        "text": message.text,
                        "classification": result.model_dump(mode="json"),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            count += 1
            if count % PROGRESS_EVERY == 0:
                progress(f"{count} messages classified")
    return count
