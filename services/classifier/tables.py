"""Classifier tables: people's corrections of classifications, kept as labelled examples, and
the campaign and spike state the replicas share.

Corrections: one row per platform message (``message_key``); a later correction of the same message
supersedes the earlier one (by the correction's own ``corrected_at``); a redelivered event
(same ``event_id``) changes nothing. ``retrain`` reads them (``services/classifier/feedback.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Integer, LargeBinary, String, Text
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
    revisions: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1
    )  # corrections seen for this message


# Campaign and spike state shared by every classifier replica (services/classifier/signals.py).
# Times are integer microseconds since the epoch (``at_us``): exact, compared the same way on
# SQLite and PostgreSQL, and what the detectors compute windows with. Every table is pruned
# by time, so it holds about one window of traffic (campaigns) or the EWMA's horizon (spikes).


class ClassifierCampaignEntry(Base):
    """One message seen by the campaign detector, with its MinHash signature."""

    __tablename__ = "classifier_campaign_entries"

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False
    )  # hash of message_key
    message_key: Mapped[str] = mapped_column(String(1024), nullable=False)
    account_id: Mapped[str] = mapped_column(String(256), nullable=False)
    author: Mapped[str] = mapped_column(String(512), nullable=False)
    at_us: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    campaign_id: Mapped[str | None] = mapped_column(String(16))


class ClassifierCampaignBand(Base):
    """LSH bucket membership: one row per (band key, entry); looked up by band key."""

    __tablename__ = "classifier_campaign_bands"

    band: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at_us: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)


class ClassifierCampaign(Base):
    """A campaign's counters, incremented atomically by whichever replica sees a member."""

    __tablename__ = "classifier_campaigns"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, nullable=False)
    authors: Mapped[int] = mapped_column(Integer, nullable=False)
    # not indexed: updated by every member (an index would rule out PostgreSQL's in-place
    # updates), and the table holds one window's campaigns, scanned when pruning
    last_at_us: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ClassifierCampaignAuthor(Base):
    """The distinct authors of a campaign (their count is ``ClassifierCampaign.authors``)."""

    __tablename__ = "classifier_campaign_authors"

    campaign_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    author: Mapped[str] = mapped_column(String(512), primary_key=True)


class ClassifierSpikeCount(Base):
    """Messages per (account, contact-reason key, tumbling window), with up to five sample keys."""

    __tablename__ = "classifier_spike_counts"

    account_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    window_start_us: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, index=True
    )
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    samples: Mapped[list] = mapped_column(JSON, nullable=False, default=list)


class ClassifierSpikeReport(Base):
    """A spike already reported: the replica whose insert wins raises the event."""

    __tablename__ = "classifier_spike_reports"

    account_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    window_start_us: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, index=True
    )
