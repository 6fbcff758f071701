"""router: routed items keep their published record while pending (``record``), and a partial
index finds the pending ones (the republication sweep)

Revision ID: 0013_router_pending
Revises: 0012_router_planning
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_router_pending"
down_revision = "0012_router_planning"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("routed_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record", sa.JSON(), nullable=True))
    op.create_index(
        "ix_routed_items_pending",
        "routed_items",
        ["routed_at"],
        unique=False,
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_routed_items_pending", table_name="routed_items")
    with op.batch_alter_table("routed_items", schema=None) as batch_op:
        batch_op.drop_column("record")
