"""Triage review: every message the classifier dropped (spam) or tagged (noise) stays reviewable
and correctable, so nothing is silently lost.

The consumer keeps a dropped or tagged message in ``router_triage`` (text, decision, the
classification's reason and explanation, tags) in its transaction, beside its KPI fact
(``store.Repository.record_fact``, with ``would_be_queue`` for team visibility): a redelivery
adds nothing. ``page`` lists them newest first with filters and a keyset cursor
(``GET /v1/triage``). ``correct`` stores a person's correction on the row and, in the same
transaction, puts a ``ClassificationCorrected`` (origin ``router-triage``) into the router's
outbox, which the relay publishes on the corrections topic after the commit; the classifier's
``CorrectionStage`` stores it and ``retrain`` learns from it (``feedback.labels_of``: ``reply``
→ reply_needed ``reply`` and spam ``0``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.router import outbox, store
from services.router.outbox import SOURCE
from services.router.policy import Signals, pick_rule
from services.router.rules import RoutingConfig
from services.router.tables import TriageMessage, TriageTag
from shared import topics
from shared.events import (
    ClassificationCorrected,
    Classified,
    Correction,
    Decision,
    derived_id,
)
from shared.logging import get_logger

log = get_logger(__name__)
ORIGIN = "router-triage"
MAX_LIMIT = 500


def would_be_queue(item: Classified, config: RoutingConfig) -> str:
    """The queue the routing rules would give ``item`` had it needed a reply (team visibility)."""
    rule = pick_rule(item, config, Signals.of(item.classification.tags))
    return rule.queue if rule else config.fallback_queue


@dataclass(frozen=True)
class Filters:
    decision: str | None = None
    platform: str | None = None
    channel: str | None = None
    language: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    corrected: bool | None = None
    queues: set[str] | None = None  # a team-scoped caller's queues; None: all


class BadCursor(ValueError):
    """A ``cursor`` that ``page`` did not hand out."""


def cursor_of(row: TriageMessage) -> str:
    raw = json.dumps(
        [store.aware(row.received_at).isoformat(), row.message_key], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        moment = datetime.fromisoformat(at)
        if not isinstance(key, str) or moment.tzinfo is None:
            raise ValueError("not a cursor")
        return moment, key
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor(
            "cursor is not one this API handed out (use the `next` of a previous page)"
        ) from exc


async def page(
    session: AsyncSession, f: Filters, limit: int = 100, cursor: str | None = None
) -> tuple[list[TriageMessage], str | None]:
    """Up to ``limit`` rows newest first (received time, then message key) after ``cursor``, and
    the cursor of the next page (``None`` on the last). Raises ``BadCursor``."""
    t = TriageMessage
    query = select(t).order_by(t.received_at.desc(), t.message_key.desc()).limit(limit + 1)
    where = [
        column == value
        for column, value in (
            (t.decision, f.decision),
            (t.platform, f.platform),
            (t.channel, f.channel),
            (t.language, f.language),
        )
        if value is not None
    ]
    if f.tag is not None:
        where.append(exists().where(TriageTag.tag == f.tag, TriageTag.message_key == t.message_key))
    if f.since is not None:
        where.append(t.received_at >= store.utc(f.since))
    if f.until is not None:
        where.append(t.received_at < store.utc(f.until))
    if f.corrected is not None:
        where.append(t.corrected_at.is_not(None) if f.corrected else t.corrected_at.is_(None))
    if f.queues is not None:
        where.append(t.queue.in_(sorted(f.queues)))
    if cursor is not None:
        at, key = _parse_cursor(cursor)
        at = store.utc(at)
        where.append(or_(t.received_at < at, and_(t.received_at == at, t.message_key < key)))
    rows = list((await session.execute(query.where(*where))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, cursor_of(rows[-1]) if more and rows else None


def as_json(row: TriageMessage) -> dict:
    correction = (
        None
        if row.corrected_at is None
        else {
            "decision": row.corrected_decision,
            "tags": row.corrected_tags,
            "at": store.aware(row.corrected_at).isoformat(),
            "by": row.corrected_by,
            "note": row.correction_note,
            "event_id": row.correction_event_id,
        }
    )
    return {
        "message_key": row.message_key,
        "event_id": row.event_id,
        "platform": row.platform,
        "channel": row.channel,
        "account_id": row.account_id,
        "author_id": row.author_id,
        "language": row.language,
        "text": row.text,
        "decision": row.decision,
        "reason": row.reason,
        "explanation": row.explanation,
        "evidence": list((row.explanation or {}).get("evidence") or ()),
        "tags": row.tags,
        "queue": row.queue,
        "received_at": store.aware(row.received_at).isoformat(),
        "classified_at": store.aware(row.classified_at).isoformat(),
        "correction": correction,
    }


class CorrectionError(ValueError):
    """A correction that cannot be applied; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Outcome:
    row: TriageMessage
    event: ClassificationCorrected
    repeated: bool  # the same correction was posted before: nothing new was emitted


def _same_tags(a: list[str] | None, b: list[str] | None) -> bool:
    return a is None or b is None or set(a) == set(b)


async def correct(
    sessions,
    message_key: str,
    decision: str,
    tags: list[str] | None,
    note: str | None,
    by: str,
    now: datetime,
    queues: set[str] | None = None,
) -> Outcome:
    """Store the correction and add its event to the outbox in one transaction.

    ``tags`` ``None`` leaves the tags as they are (the event then carries no tags: it speaks for the
    decision only). The same correction posted again is answered with the stored event (same id,
    nothing new published); a correction that changes nothing (the decision in force and its
    tags) is a 409; an unknown key (or one outside ``queues``) a 404. Raises ``CorrectionError``."""
    decision = Decision(decision).value
    tags = list(dict.fromkeys(tags)) if tags is not None else None
    async with sessions() as session:
        row = await session.get(TriageMessage, message_key)
        if row is None or (queues is not None and row.queue not in queues):
            raise CorrectionError(f"no dropped or tagged message {message_key}", 404)
        if (
            row.corrected_at is not None
            and row.corrected_decision == decision
            and row.corrected_tags == tags
        ):
            return Outcome(
                row,
                _event(
                    row,
                    row.corrected_decision,
                    row.corrected_tags,
                    store.aware(row.corrected_at),
                    row.corrected_by,
                    row.correction_event_id,
                ),
                repeated=True,
            )
        current = row.corrected_decision if row.corrected_at is not None else row.decision
        current_tags = (
            row.corrected_tags
            if row.corrected_at is not None and row.corrected_tags is not None
            else row.tags
        )
        if decision == current and _same_tags(tags, current_tags):
            raise CorrectionError(
                f"message {message_key} is already decided {current} with these tags: "
                "nothing to correct",
                409,
            )
        at = store.utc(now)
        event_id = derived_id(
            f"{message_key}#{row.corrections}:{decision}:{json.dumps(tags)}",
            "router:triage-correction",
        )
        previous = {"decision": current, "tags": current_tags}
        # conditional on the revision read: a concurrent correction of the same message wins, this one is a 409
        changed = await session.execute(
            update(TriageMessage)
            .where(
                TriageMessage.message_key == message_key,
                TriageMessage.corrections == row.corrections,
            )
            .values(
                corrected_at=at,
                corrected_decision=decision,
                corrected_tags=tags,
                corrected_by=by,
                correction_note=note,
                correction_event_id=event_id,
                corrections=row.corrections + 1,
            )
        )
        if changed.rowcount != 1:
            await session.rollback()
            row = await session.get(TriageMessage, message_key, populate_existing=True)
            if (
                row.corrected_decision == decision and row.corrected_tags == tags
            ):  # the same, posted twice at once
                return Outcome(
                    row,
                    _event(
                        row,
                        decision,
                        tags,
                        store.aware(row.corrected_at),
                        row.corrected_by,
                        row.correction_event_id,
                    ),
                    repeated=True,
                )
            raise CorrectionError(
                f"message {message_key} was corrected at the same time; reload and retry", 409
            )
        await session.refresh(row)
        event = _event(row, decision, tags, at, by, event_id)
        await outbox.add(session, topics.CORRECTIONS, event, at)
        store.audit(
            session,
            at,
            message_key,
            "triage_corrected",
            {
                "event_id": event_id,
                "from": previous,
                "to": {"decision": decision, "tags": tags},
                "note": note,
            },
            by,
        )
        await session.commit()
    log.info(
        "router.triage_corrected",
        message_key=message_key,
        decision=decision,
        by=by,
        event_id=event_id,
    )
    return Outcome(row, event, repeated=False)


def _event(
    row: TriageMessage,
    decision: str,
    tags: list[str] | None,
    at: datetime,
    by: str | None,
    event_id: str,
) -> ClassificationCorrected:
    """The correction for the classifier: the text and language it learns from, the right decision
    and tags; the previous ones are the classifier's own."""
    data = Correction(
        message_key=row.message_key,
        text=row.text,
        language=row.language,
        decision=Decision(decision),
        tags=tuple(tags or ()),
        previous_decision=Decision(row.decision),
        previous_tags=tuple(row.tags or ()),
        corrected_by=by,
        origin=ORIGIN,
        at=at,
    )
    return ClassificationCorrected(
        id=event_id,
        source=SOURCE,
        time=at,
        correlation_id=row.event_id,
        subject=row.message_key,
        data=data,
    )
