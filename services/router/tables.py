"""Router tables: routed items and their work state, the directory (teams, queues, agents),
conversations (stickiness), assignments, SLA policies, the audit trail of every routing
decision, helpdesk lifecycle receipts, reply drafts (four-eyes), API tokens, per-message
facts for KPIs, dropped and noise messages kept for review (triage) and the admin-editable
configuration documents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.outbox import OutboxColumns

Stamp = DateTime(timezone=True)


class RoutedItem(Base):
    __tablename__ = "routed_items"
    # the republication sweep finds the few items still pending without scanning the ledger
    __table_args__ = (
        Index(
            "ix_routed_items_pending",
            "routed_at",
            postgresql_where=sql_text("state = 'pending'"),
            sqlite_where=sql_text("state = 'pending'"),
        ),
    )

    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    conversation_key: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    queue: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    sla_deadline: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    routed_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False, default="queued")  # publication
    # added by 0003_router
    language: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[list | None] = mapped_column(JSON)
    urgency: Mapped[str] = mapped_column(String(16), nullable=False, default="normal")
    sentiment: Mapped[str | None] = mapped_column(String(16))
    vip: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    four_eyes: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    rule: Mapped[str | None] = mapped_column(String(128))
    sla_business_s: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    received_at: Mapped[datetime | None] = mapped_column(Stamp, index=True)
    work_state: Mapped[str] = mapped_column(
        String(16), nullable=False, default="waiting", index=True
    )
    agent_id: Mapped[str | None] = mapped_column(String(128), index=True)
    relax_level: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    assigned_at: Mapped[datetime | None] = mapped_column(Stamp)
    first_response_at: Mapped[datetime | None] = mapped_column(Stamp)
    last_response_at: Mapped[datetime | None] = mapped_column(Stamp)
    responses: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    response_s_total: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    resolved_at: Mapped[datetime | None] = mapped_column(Stamp)
    handling_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    unstaffed_notified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # added by 0007_router: the message text (re-tag corrections), the customer's locale
    # (culture matching), and durations computed once when known (KPIs aggregate them in SQL)
    text: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(16))
    first_response_s: Mapped[float | None] = mapped_column(Float)
    first_response_business_s: Mapped[float | None] = mapped_column(Float)
    resolution_s: Mapped[float | None] = mapped_column(Float)
    resolution_business_s: Mapped[float | None] = mapped_column(Float)
    sla_met_business: Mapped[bool | None] = mapped_column(Boolean)
    sla_met_calendar: Mapped[bool | None] = mapped_column(Boolean)
    # added by 0013_router_pending: the routed event as published (encoded: value and headers),
    # kept while the item is pending so the republication sweep can send it again; cleared when
    # the item is marked queued
    record: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    # added by 0014_router_context: who the customer is (platform:author id, earlier contacts are
    # counted by it) and how long the message took from the platform's post time to routing
    customer_key: Mapped[str | None] = mapped_column(String(1024), index=True)
    ingestion_delay_s: Mapped[float | None] = mapped_column(Float)
    # added by 0015_router_item_author: who wrote (display name and @handle, as the platform
    # gave them) and the classifier's reason for asking a reply, for the queue views
    author: Mapped[str | None] = mapped_column(String(512))
    explanation: Mapped[str | None] = mapped_column(String(512))


class Team(Base):
    __tablename__ = "router_teams"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), nullable=False)


class Queue(Base):
    __tablename__ = "router_queues"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("router_teams.id"), nullable=False)
    skill: Mapped[str | None] = mapped_column(String(128))


class Agent(Base):
    __tablename__ = "router_agents"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), nullable=False)
    team_id: Mapped[str] = mapped_column(ForeignKey("router_teams.id"), nullable=False)
    languages: Mapped[list] = mapped_column(JSON, nullable=False)
    skills: Mapped[dict] = mapped_column(JSON, nullable=False)  # skill -> proficiency 1..5
    channels: Mapped[list] = mapped_column(JSON, nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    load: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # open conversations
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="offline")
    trainee: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Conversation(Base):
    __tablename__ = "router_conversations"

    conversation_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    agent_id: Mapped[str | None] = mapped_column(String(128))
    open_items: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # no longer written: sentiment change is read from router_conversation_messages (0011)
    first_sentiment: Mapped[str | None] = mapped_column(String(16))
    last_sentiment: Mapped[str | None] = mapped_column(String(16))


class AssignmentRow(Base):
    __tablename__ = "router_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_key: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    agent_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    cause: Mapped[str] = mapped_column(String(32), nullable=False)
    relax_level: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    assigned_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)


class SlaPolicy(Base):
    __tablename__ = "router_sla_policies"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    urgency: Mapped[str] = mapped_column(String(16), primary_key=True)
    business_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    policy: Mapped[str] = mapped_column(String(128), nullable=False)


class AuditEntry(Base):
    __tablename__ = "router_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    message_key: Mapped[str | None] = mapped_column(String(1024), index=True)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False, default="router")
    detail: Mapped[dict] = mapped_column(JSON, nullable=False)


class LifecycleReceipt(Base):
    __tablename__ = "router_lifecycle_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[datetime] = mapped_column(Stamp, nullable=False)


class Draft(Base):
    __tablename__ = "router_drafts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    author: Mapped[str] = mapped_column(String(128), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(
        String(16), nullable=False
    )  # submitted, approved, rejected, released
    reviewer: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(Stamp)


class ApiToken(Base):
    __tablename__ = "router_api_tokens"

    token_hash: Mapped[str] = mapped_column(
        String(64), primary_key=True
    )  # sha256 hex, never the token
    subject: Mapped[str] = mapped_column(String(128), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    team_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(Stamp)  # None: never
    revoked_at: Mapped[datetime | None] = mapped_column(Stamp)
    revoked_by: Mapped[str | None] = mapped_column(String(128))


class MessageFact(Base):
    """One row per classified message (every decision), for the share needing a reply."""

    __tablename__ = "router_message_facts"

    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(128))
    sentiment: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(Stamp, nullable=False, index=True)


class ConfigDocument(Base):
    """Admin-editable configuration (``routing``, ``calendar``): the YAML text, versioned."""

    __tablename__ = "router_config"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)


class WebhookDelivery(Base):
    """One event for one helpdesk webhook endpoint: pending, delivered, or dead after ~3 days."""

    __tablename__ = "router_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint", "event_id", name="uq_router_webhook_endpoint_event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(128), nullable=False)
    event_id: Mapped[str] = mapped_column(String(128), nullable=False)
    event_type: Mapped[str] = mapped_column(String(128), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_at: Mapped[datetime] = mapped_column(Stamp, nullable=False, index=True)
    last_error: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)


class OutboxRow(OutboxColumns, Base):
    """An event to publish, written in the same transaction as the change it reports (0007_router;
    columns and relay in ``shared.outbox``).

    The relay sends unsent rows in ``seq`` order (acks=all) and then stamps ``sent_at``; a crash
    in between sends the row again with the same event id (at-least-once, consumers deduplicate).
    """

    __tablename__ = "router_outbox"


class TriageMessage(Base):
    """A message the classifier dropped (spam) or tagged (noise), kept reviewable (0010_router_triage).

    Written in the consumer's transaction beside its ``MessageFact`` (one row per message key; a
    redelivery adds nothing). ``queue`` is where the routing rules would have put it had it needed a
    reply: what a team-scoped token may see. A person's correction is kept on the row
    (``corrected_*``) and sent to the classifier as a ``ClassificationCorrected`` through the outbox.
    """

    __tablename__ = "router_triage"
    __table_args__ = (Index("ix_router_triage_received", "received_at", "message_key"),)

    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    event_id: Mapped[str] = mapped_column(
        String(128), nullable=False
    )  # the MessageClassified event
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    account_id: Mapped[str] = mapped_column(String(256), nullable=False)
    author_id: Mapped[str] = mapped_column(String(256), nullable=False)
    language: Mapped[str] = mapped_column(String(16), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(512), nullable=False)
    explanation: Mapped[dict] = mapped_column(JSON, nullable=False)
    tags: Mapped[list] = mapped_column(JSON, nullable=False)
    queue: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    classified_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    corrected_at: Mapped[datetime | None] = mapped_column(Stamp)
    corrected_decision: Mapped[str | None] = mapped_column(String(16))
    corrected_tags: Mapped[list | None] = mapped_column(JSON)
    corrected_by: Mapped[str | None] = mapped_column(String(128))
    correction_note: Mapped[str | None] = mapped_column(String(1024))
    correction_event_id: Mapped[str | None] = mapped_column(String(128))
    corrections: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class TriageTag(Base):
    """One tag of a triaged message (the ``tag`` filter of ``GET /v1/triage``, by index)."""

    __tablename__ = "router_triage_tags"

    tag: Mapped[str] = mapped_column(String(256), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)


class ForecastRow(Base):
    """Planning: the latest forecast of one series (``queue:workload`` or
    ``queue:channel:<channel>``) from the scheduled refresh, or why it could not be made
    (0012_router_planning); every replica reads the same rows."""

    __tablename__ = "router_planning_forecasts"

    series: Mapped[str] = mapped_column(String(300), primary_key=True)
    queue: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    computed_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    body: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(1024))


class RosterRow(Base):
    """Planning: a team's shifts (weekly pattern + exceptions) as the lead sent them, versioned."""

    __tablename__ = "router_planning_rosters"

    team: Mapped[str] = mapped_column(String(128), primary_key=True)
    body: Mapped[dict] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)


class ConversationMessage(Base):
    """A customer's message of a conversation (any decision but spam), kept for the customer
    context of later routed items and the sentiment change per conversation (0014_router_context).

    The text is stored with PII masked (``shared.pii.mask_text``) and cut to the context's bound;
    ``at`` is the platform's post time, so the order is the conversation's, whatever the arrival.
    """

    __tablename__ = "router_conversation_messages"
    __table_args__ = (Index("ix_router_conversation_messages_conv_at", "conversation_key", "at"),)

    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    conversation_key: Mapped[str] = mapped_column(String(1024), nullable=False)
    author_id: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, nullable=False)


class ConversationNote(Base):
    """An internal note on a conversation, written by a helpdesk (0014_router_context): shown in
    the customer context of the conversation's later routed items, PII masked, never published
    to the customer. ``event_id`` (the lifecycle event that carried it) makes a redelivery a no-op.
    """

    __tablename__ = "router_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    conversation_key: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    item_id: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
