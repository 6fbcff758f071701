"""router: routed items keep who wrote (``author``: display name and handle) and why the
classifier asked for a reply (``explanation``: its reason), for the queue views

Revision ID: 0015_router_item_author
Revises: 0014_router_context
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_router_item_author"
down_revision = "0014_router_context"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routed_items") as batch:
        batch.add_column(sa.Column("author", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("explanation", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routed_items") as batch:
        batch.drop_column("explanation")
        batch.drop_column("author")
