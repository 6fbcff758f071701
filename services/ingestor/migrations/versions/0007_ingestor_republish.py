"""ingestor: each ledger row keeps the event as published, so it can be published again

Revision ID: 0007_ingestor_republish
Revises: 0006_ingestor_pollers
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_ingestor_republish"
down_revision = "0006_ingestor_pollers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingested_messages") as batch_op:
        batch_op.add_column(sa.Column("event", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingested_messages") as batch_op:
        batch_op.drop_column("event")
