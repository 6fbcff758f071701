"""router: routed items (``routed_items``), split out of the retired shared ``0001``

Revision ID: 0001_router
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_router"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('routed_items',
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('conversation_key', sa.String(length=1024), nullable=False),
    sa.Column('queue', sa.String(length=128), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('sla_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('routed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_key'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('routed_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routed_items_conversation_key'), ['conversation_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_routed_items_queue'), ['queue'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('routed_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routed_items_queue'))
        batch_op.drop_index(batch_op.f('ix_routed_items_conversation_key'))
    op.drop_table('routed_items')
