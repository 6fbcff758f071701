"""notifier: the outbox of page records (``notifier_outbox``), written with the delivery they
report and published by the relay

Revision ID: 0012_notifier_outbox
Revises: 0008_notifier
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_notifier_outbox"
down_revision = "0008_notifier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_outbox",
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
        sa.UniqueConstraint("event_id", "topic", name="uq_notifier_outbox_event_topic"),
    )
    op.create_index("ix_notifier_outbox_sent_at", "notifier_outbox", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_notifier_outbox_sent_at", table_name="notifier_outbox")
    op.drop_table("notifier_outbox")
