"""classifier: corrections of classifications, stored as labelled examples for retraining

Revision ID: 0005_classifier
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_classifier"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('classifier_corrections',
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('previous_decision', sa.String(length=16), nullable=True),
    sa.Column('previous_tags', sa.JSON(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('corrected_by', sa.String(length=128), nullable=True),
    sa.Column('item_id', sa.String(length=128), nullable=True),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revisions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('message_key')
    )
    op.create_index(op.f('ix_classifier_corrections_event_id'), 'classifier_corrections', ['event_id'], unique=False)
    op.create_index(op.f('ix_classifier_corrections_corrected_at'), 'classifier_corrections', ['corrected_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_classifier_corrections_corrected_at'), table_name='classifier_corrections')
    op.drop_index(op.f('ix_classifier_corrections_event_id'), table_name='classifier_corrections')
    op.drop_table('classifier_corrections')
