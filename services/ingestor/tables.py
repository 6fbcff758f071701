"""Ingestor tables: the deduplication ledger, the raw webhook bodies, and YouTube WebSub state.

``ingested_messages`` and ``raw_payloads`` are pruned by ``python -m services.ingestor.prune``
(retention in the settings); the YouTube tables hold current state and are not pruned.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class IngestedMessage(Base):
    """A platform message the broker acknowledged. Its key makes re-sent webhooks no-ops; its
    ``event`` (the envelope as published, JSON; none for a dead-lettered item) lets
    ``python -m services.ingestor.republish`` publish it again after a broker lost it."""

    __tablename__ = "ingested_messages"

    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(128), nullable=False)
    webhook_id: Mapped[str | None] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    event: Mapped[str | None] = mapped_column(Text)


class RawPayload(Base):
    """A webhook body exactly as received, content-addressed: ``raw_ref`` is ``raw_payloads/<sha256>``."""

    __tablename__ = "raw_payloads"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), nullable=False)
    content_type: Mapped[str] = mapped_column(String(128), nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class YouTubeSubscription(Base):
    """The hub's last verified intent for a topic; ``resubscribe_at`` is when to renew the lease."""

    __tablename__ = "youtube_subscriptions"

    topic: Mapped[str] = mapped_column(String(1024), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(128), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    resubscribe_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class YouTubeVideo(Base):
    """A video announced by WebSub; a comment poller picks up rows with ``comments_polled_at`` unset."""

    __tablename__ = "youtube_videos"

    video_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    title: Mapped[str | None] = mapped_column(String(1024))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comments_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PollerLease(Base):
    """One row per polled source: which replica polls it (until when), and its error state."""

    __tablename__ = "poller_leases"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consecutive_errors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    errors_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(String(512))
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PollerCursor(Base):
    """Where a poller stopped for one target of a source (JSON ``position``), advanced only after
    the broker acknowledged everything before it; ``next_poll_at`` spreads polls (and quota)."""

    __tablename__ = "poller_cursors"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    target: Mapped[str] = mapped_column(String(256), primary_key=True)
    position: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class YouTubeQuota(Base):
    """YouTube Data API units spent per Pacific day, shared by every replica and source."""

    __tablename__ = "youtube_quota"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    units: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ConnectorActivity(Base):
    """Per source, across replicas: the last event, the learned rhythm, errors since the last
    event, and the reported state (``ok`` / ``silent``) with when the silence began."""

    __tablename__ = "connector_activity"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ewma_interval_s: Mapped[float | None] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    errors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="ok")
    silent_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    watching_since: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
