"""ingestor: raw payloads, YouTube WebSub subscriptions and announced videos

Revision ID: 0002_ingestor
Revises: 0001_ingestor
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_ingestor"
down_revision = "0001_ingestor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_payloads",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_raw_payloads_received_at", "raw_payloads", ["received_at"])
    op.create_table(
        "youtube_subscriptions",
        sa.Column("topic", sa.String(length=1024), nullable=False),
        sa.Column("channel_id", sa.String(length=128), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resubscribe_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("topic"),
    )
    op.create_index("ix_youtube_subscriptions_resubscribe_at", "youtube_subscriptions", ["resubscribe_at"])
    op.create_table(
        "youtube_videos",
        sa.Column("video_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comments_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("video_id"),
    )
    op.create_index("ix_youtube_videos_channel_id", "youtube_videos", ["channel_id"])


def downgrade() -> None:
    op.drop_index("ix_youtube_videos_channel_id", table_name="youtube_videos")
    op.drop_table("youtube_videos")
    op.drop_index("ix_youtube_subscriptions_resubscribe_at", table_name="youtube_subscriptions")
    op.drop_table("youtube_subscriptions")
    op.drop_index("ix_raw_payloads_received_at", table_name="raw_payloads")
    op.drop_table("raw_payloads")
