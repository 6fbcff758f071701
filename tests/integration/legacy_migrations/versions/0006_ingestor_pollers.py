"""ingestor: poller leases and cursors, YouTube quota per Pacific day, connector activity (silence)

Revision ID: 0006_ingestor_pollers
Revises: 0002_ingestor
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_ingestor_pollers"
down_revision = "0002_ingestor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "poller_leases",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("errors_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "poller_cursors",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("position", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "target"),
    )
    op.create_table(
        "youtube_quota",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "connector_activity",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ewma_interval_s", sa.Float(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("errors", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("state", sa.String(length=16), nullable=False, server_default="ok"),
        sa.Column("silent_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("watching_since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("connector_activity")
    op.drop_table("youtube_quota")
    op.drop_table("poller_cursors")
    op.drop_table("poller_leases")
