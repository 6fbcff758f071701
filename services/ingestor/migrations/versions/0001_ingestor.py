"""ingestor: the dedup ledger (``ingested_messages``), split out of the retired shared ``0001``

Revision ID: 0001_ingestor
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_ingestor"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingested_messages',
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('webhook_id', sa.String(length=256), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_key')
    )
    with op.batch_alter_table('ingested_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingested_messages_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ingested_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingested_messages_received_at'))
    op.drop_table('ingested_messages')
