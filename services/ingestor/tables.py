"""Ingestor tables: the deduplication ledger of accepted platform messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class IngestedMessage(Base):
    """A platform message the broker acknowledged. Its key makes re-sent webhooks no-ops."""

    __tablename__ = "ingested_messages"

    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(128), nullable=False)
    webhook_id: Mapped[str | None] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
