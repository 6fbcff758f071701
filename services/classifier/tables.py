"""Classifier tables: people's corrections of classifications, kept as labelled examples.

One row per platform message (``message_key``): a later correction of the same message
supersedes the earlier one (by the correction's own ``corrected_at``); a redelivered event
(same ``event_id``) changes nothing. ``retrain`` reads them (``services/classifier/feedback.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

Stamp = DateTime(timezone=True)


class ClassifierCorrection(Base):
    __tablename__ = "classifier_corrections"

    message_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    language: Mapped[str | None] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    previous_decision: Mapped[str | None] = mapped_column(String(16))
    previous_tags: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    origin: Mapped[str] = mapped_column(String(64), nullable=False)
    corrected_by: Mapped[str | None] = mapped_column(String(128))
    item_id: Mapped[str | None] = mapped_column(String(128))
    corrected_at: Mapped[datetime] = mapped_column(Stamp, nullable=False, index=True)
    received_at: Mapped[datetime] = mapped_column(Stamp, nullable=False)
    revisions: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # corrections seen for this message
