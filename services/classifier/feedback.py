"""The feedback loop's intake: ``ClassificationCorrected`` events stored as labelled examples.

``CorrectionStage`` is a runner stage (its own consumer group on ``topics.CORRECTIONS``, see
``app.build``) that stores each correction in ``classifier_corrections`` through
``CorrectionStore``: one row per platform message, idempotent on the event id (a redelivery
changes nothing), and a later correction of the same message supersedes the earlier one
(by the correction's own ``at``; an older one arriving late is kept out and counted). A
correction that carries no label (no decision and no tags) or no text is poison: it is
dead-lettered with that reason, never silently dropped.

``labels_of(row)`` turns a stored correction into the labels the models learn:

* ``spam``: the right decision ``drop`` → ``"1"``; ``reply`` or ``tag`` → ``"0"`` ("was not spam");
* ``reply_needed``: ``reply`` → ``"reply"``, ``tag`` → ``"noise"`` ("needed a reply");
* ``contact_reason``: the ``reason:<id>`` tag (the contact reason the classifier and the router
  agree on, what a helpdesk re-tags), else the first plain tag (no ``:``, not a judgement tag
  such as ``spam``), else the label of a ``contact_reason:<label>`` tag (a served contact-reason
  model's);
* ``sentiment``: a ``sentiment:<label>`` tag.

``read_corrections(database_url)`` (synchronous) is what ``retrain`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy import create_engine, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.codec import PoisonMessage
from shared.db import sync_url
from shared.events import (
    REASON_TAG,
    SENTIMENT_TAG,
    ClassificationCorrected,
    Decision,
    tagged,
    utcnow,
)
from shared.logging import get_logger
from shared.runner import Output, PerMessage, RecordMeta

from .rules.taxonomy import MODEL_REASON, OPEN_LABELS
from .tables import ClassifierCorrection

log = get_logger(__name__)
STORED = Counter(
    "switchboard_classifier_corrections_total",
    "Corrections received, by outcome (inserted, superseded, duplicate, stale)",
    ["outcome"],
)
# Tags that say how a message was judged rather than what it is about (taxonomy.OPEN_LABELS).
JUDGEMENTS = OPEN_LABELS
TASKS = ("spam", "reply_needed", "contact_reason", "sentiment")


@dataclass(frozen=True)
class Example:
    """One stored correction as training material."""

    message_key: str
    text: str
    language: str | None
    decision: str | None
    tags: tuple[str, ...]
    corrected_at: datetime


def labels_of(example: Example) -> dict[str, str]:
    """The label of each task this correction speaks for (see the module docstring)."""
    labels: dict[str, str] = {}
    if example.decision is not None:
        labels["spam"] = "1" if example.decision == Decision.DROP.value else "0"
        if example.decision in (Decision.REPLY.value, Decision.TAG.value):
            labels["reply_needed"] = (
                "reply" if example.decision == Decision.REPLY.value else "noise"
            )
    if example.decision != Decision.DROP.value:
        reason = (
            tagged(example.tags, REASON_TAG)
            or next((t for t in example.tags if ":" not in t and t not in JUDGEMENTS), None)
            or tagged(example.tags, MODEL_REASON)
        )
        if reason:
            labels["contact_reason"] = reason
    if sentiment := tagged(example.tags, SENTIMENT_TAG):
        labels["sentiment"] = sentiment
    return labels


class CorrectionStore:
    """Writes corrections; one transaction per correction."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions

    async def store(self, event: ClassificationCorrected) -> str:
        """``inserted``, ``superseded`` (replaced an earlier correction), ``duplicate`` (this
        event was stored before) or ``stale`` (a newer correction of the message is stored)."""
        data = event.data
        async with self.sessions() as session, session.begin():
            row = await session.get(ClassifierCorrection, data.message_key)
            if row is not None and row.event_id == event.id:
                return "duplicate"
            if row is not None and _aware(row.corrected_at) > data.at:
                row.revisions += 1
                return "stale"
            values = {
                "event_id": event.id,
                "text": data.text,
                "language": data.language,
                "decision": data.decision.value if data.decision else None,
                "tags": list(data.tags),
                "previous_decision": data.previous_decision.value
                if data.previous_decision
                else None,
                "previous_tags": list(data.previous_tags),
                "origin": data.origin,
                "corrected_by": data.corrected_by,
                "item_id": data.item_id,
                "corrected_at": data.at,
                "received_at": utcnow(),
            }
            if row is None:
                session.add(
                    ClassifierCorrection(message_key=data.message_key, revisions=1, **values)
                )
                return "inserted"
            for name, value in values.items():
                setattr(row, name, value)
            row.revisions += 1
            return "superseded"


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class CorrectionStage(PerMessage):
    """Runner stage over ``topics.CORRECTIONS``: store, publish nothing."""

    def __init__(self, store: CorrectionStore) -> None:
        self.store = store

    async def process(self, event: ClassificationCorrected, meta: RecordMeta) -> Sequence[Output]:
        data = event.data
        if data.decision is None and not data.tags:
            raise PoisonMessage(
                f"correction {event.id} carries no label: neither a decision nor tags"
            )
        if not data.text.strip():
            raise PoisonMessage(f"correction {event.id} has no text to learn from")
        outcome = await self.store.store(event)
        STORED.labels(outcome).inc()
        log.info(
            "classifier.correction",
            event_id=event.id,
            message_key=data.message_key,
            outcome=outcome,
            origin=data.origin,
            decision=data.decision.value if data.decision else None,
        )
        return []


def read_corrections(database_url: str) -> list[Example]:
    """Every stored correction, oldest first (synchronous: for the ``retrain`` command)."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            table = ClassifierCorrection.__table__
            rows = (
                connection.execute(
                    select(table).order_by(table.c.corrected_at, table.c.message_key)
                )
                .mappings()
                .all()
            )
    finally:
        engine.dispose()
    return [
        Example(
            r["message_key"],
            r["text"],
            r["language"],
            r["decision"],
            tuple(r["tags"] or ()),
            _aware(r["corrected_at"]),
        )
        for r in rows
    ]
