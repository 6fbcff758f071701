"""router: transactional outbox; routed_items gains the message text and locale (re-tag
corrections, culture matching) and per-item durations computed once at write time (KPIs
aggregated in SQL); indexes for KPI time windows

Revision ID: 0007_router
Revises: 0003_router
Create Date: 2026-11-23 01:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_router"
down_revision = "0003_router"
branch_labels = None
depends_on = None

DURATIONS = ("first_response_s", "first_response_business_s", "resolution_s", "resolution_business_s")


def upgrade() -> None:
    op.create_table(
        "router_outbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id", "topic", name="uq_router_outbox_event_topic"),
    )
    with op.batch_alter_table("router_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_router_outbox_sent_at", ["sent_at"], unique=False)

    with op.batch_alter_table("routed_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
        for name in DURATIONS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("sla_met_business", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("sla_met_calendar", sa.Boolean(), nullable=True))
        batch_op.create_index("ix_routed_items_received_at", ["received_at"], unique=False)
    with op.batch_alter_table("router_message_facts", schema=None) as batch_op:
        batch_op.create_index("ix_router_message_facts_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("router_message_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_router_message_facts_received_at")
    with op.batch_alter_table("routed_items", schema=None) as batch_op:
        batch_op.drop_index("ix_routed_items_received_at")
        for name in ("sla_met_calendar", "sla_met_business", *reversed(DURATIONS), "locale", "text"):
            batch_op.drop_column(name)
    with op.batch_alter_table("router_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_router_outbox_sent_at")
    op.drop_table("router_outbox")
