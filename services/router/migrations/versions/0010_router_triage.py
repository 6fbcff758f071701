"""router: dropped and noise messages kept for review and correction (``router_triage``, its
tags in ``router_triage_tags`` for the tag filter)

Revision ID: 0010_router_triage
Revises: 0007_router
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_router_triage"
down_revision = "0007_router"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "router_triage",
        sa.Column("message_key", sa.String(length=1024), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=256), nullable=False),
        sa.Column("author_id", sa.String(length=256), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("corrected_decision", sa.String(length=16), nullable=True),
        sa.Column("corrected_tags", sa.JSON(), nullable=True),
        sa.Column("corrected_by", sa.String(length=128), nullable=True),
        sa.Column("correction_note", sa.String(length=1024), nullable=True),
        sa.Column("correction_event_id", sa.String(length=128), nullable=True),
        sa.Column("corrections", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("message_key"),
    )
    op.create_index("ix_router_triage_received", "router_triage", ["received_at", "message_key"], unique=False)
    op.create_table(
        "router_triage_tags",
        sa.Column("tag", sa.String(length=256), nullable=False),
        sa.Column("message_key", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("tag", "message_key"),
    )


def downgrade() -> None:
    op.drop_table("router_triage_tags")
    op.drop_index("ix_router_triage_received", table_name="router_triage")
    op.drop_table("router_triage")
