"""notifier: the first page log (``pages``, dropped again by ``0008_notifier``), split out of
the retired shared ``0001``

Revision ID: 0001_notifier
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_notifier"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_table('pages')
