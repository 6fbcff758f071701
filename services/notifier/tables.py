"""Notifier tables: incidents and their items, the delivery ledger (one row per incident, round,
step, person and target, so redelivery never pages twice), digest items, durable SLA timers and
the ledger of lifecycle/connector events already handled, and the outbox of page records.
(The unused ``pages`` table of migration 0001 is dropped by 0008_notifier.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.outbox import OutboxColumns


class Incident(Base):
    """One incident: what is paged and escalated. ``open_key`` equals ``key`` while the incident
    is open and is NULL once resolved, so at most one open incident exists per key (grouping)."""

    __tablename__ = "notifier_incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), nullable=False, index=True)
    open_key: Mapped[str | None] = mapped_column(String(512), unique=True)
    team: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(
        String(32), nullable=False
    )  # triggered, acknowledged, resolved
    reason: Mapped[str] = mapped_column(String(256), nullable=False)
    summary: Mapped[str] = mapped_column(String(1024), nullable=False)
    item_count: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    round: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    passes_left: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acked_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(128))


class IncidentItem(Base):
    """What an incident is made of; the primary key (event id, alert fingerprint…) makes a
    redelivered event attach once and page never twice."""

    __tablename__ = "notifier_incident_items"

    source_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(
        String(32), nullable=False
    )  # item, alert, sla-warning, sla-breach, unstaffed
    item_event_id: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    message_key: Mapped[str | None] = mapped_column(String(1024))
    attached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Delivery(Base):
    """One notification of one person's target for one (round, step) of an incident."""

    __tablename__ = "notifier_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "incident_id", "round", "step", "person", "target", name="uq_notifier_deliveries_once"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    round: Mapped[int] = mapped_column(Integer, nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    person: Mapped[str] = mapped_column(String(128), nullable=False)
    target: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(
        String(32), nullable=False
    )  # sending, sent, failed, rate_limited
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DigestItem(Base):
    """A low-urgency item that arrived while the office was closed, delivered when it opens."""

    __tablename__ = "notifier_digest_items"

    item_event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    team: Mapped[str] = mapped_column(String(128), nullable=False)
    summary: Mapped[str] = mapped_column(String(1024), nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SlaTimer(Base):
    """A durable SLA timer: survives restarts; fired once (``fired_at``)."""

    __tablename__ = "notifier_sla_timers"
    __table_args__ = (
        UniqueConstraint("item_event_id", "kind", name="uq_notifier_sla_timers_item_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_event_id: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # sla-warning, sla-breach
    incident_key: Mapped[str] = mapped_column(String(512), nullable=False)
    team: Mapped[str] = mapped_column(String(128), nullable=False)
    queue: Mapped[str] = mapped_column(String(128), nullable=False)
    message_key: Mapped[str] = mapped_column(String(1024), nullable=False)
    summary: Mapped[str] = mapped_column(String(1024), nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Handled(Base):
    """A helpdesk lifecycle event (``subject`` = routed item id) or connector recovery (``subject`` =
    source) the notifier acted on: redelivery is a no-op, and an item routed after its reply was
    seen (topics are consumed independently) arms no timers and pages nobody."""

    __tablename__ = "notifier_handled"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(
        String(32), nullable=False
    )  # replied, resolved, connector-recovered
    subject: Mapped[str] = mapped_column(String(256), nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class OutboxRow(OutboxColumns, Base):
    """A page record (``PageSent``) to publish on the pages topic, written in the transaction that
    marks its delivery sent (0012_notifier_outbox; columns and relay in ``shared.outbox``)."""

    __tablename__ = "notifier_outbox"
