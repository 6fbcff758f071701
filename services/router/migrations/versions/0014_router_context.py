"""router: customer context (conversation messages, internal notes, the customer key of routed
items) and the ingestion delay of routed items

Revision ID: 0014_router_context
Revises: 0013_router_pending
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_router_context"
down_revision = "0013_router_pending"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routed_items") as batch:
        batch.add_column(sa.Column("customer_key", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("ingestion_delay_s", sa.Float(), nullable=True))
    op.create_index("ix_routed_items_customer_key", "routed_items", ["customer_key"], unique=False)
    op.create_table(
        "router_conversation_messages",
        sa.Column("message_key", sa.String(length=1024), nullable=False),
        sa.Column("conversation_key", sa.String(length=1024), nullable=False),
        sa.Column("author_id", sa.String(length=256), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("message_key"),
    )
    op.create_index(
        "ix_router_conversation_messages_conv_at",
        "router_conversation_messages",
        ["conversation_key", "at"],
        unique=False,
    )
    op.create_table(
        "router_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("conversation_key", sa.String(length=1024), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=True),
        sa.Column("author", sa.String(length=256), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_router_notes_conversation_key", "router_notes", ["conversation_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_router_notes_conversation_key", table_name="router_notes")
    op.drop_table("router_notes")
    op.drop_index("ix_router_conversation_messages_conv_at", table_name="router_conversation_messages")
    op.drop_table("router_conversation_messages")
    op.drop_index("ix_routed_items_customer_key", table_name="routed_items")
    with op.batch_alter_table("routed_items") as batch:
        batch.drop_column("ingestion_delay_s")
        batch.drop_column("customer_key")
