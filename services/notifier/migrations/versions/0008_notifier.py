"""notifier: drop the unused ``pages`` table (superseded by ``notifier_deliveries``); add
``notifier_handled`` (lifecycle and connector events already acted on)

Revision ID: 0008_notifier
Revises: 0004_notifier
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_notifier"
down_revision = "0004_notifier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('pages')
    op.create_table('notifier_handled',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=256), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index(op.f('ix_notifier_handled_subject'), 'notifier_handled', ['subject'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notifier_handled_subject'), table_name='notifier_handled')
    op.drop_table('notifier_handled')
    op.create_table('pages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_event_id', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('incident_key', sa.String(length=1024), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_event_id', 'target', name='uq_pages_item_target')
    )
