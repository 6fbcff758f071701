"""classifier: campaign and spike state shared by every replica (entries, LSH bands, campaigns,
campaign authors, spike counts per window, spikes reported)

Revision ID: 0009_classifier_signals
Revises: 0005_classifier
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_classifier_signals"
down_revision = "0005_classifier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('classifier_campaign_entries',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('account_id', sa.String(length=256), nullable=False),
    sa.Column('author', sa.String(length=512), nullable=False),
    sa.Column('at_us', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('campaign_id', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_classifier_campaign_entries_at_us'), 'classifier_campaign_entries', ['at_us'],
                    unique=False)
    op.create_table('classifier_campaign_bands',
    sa.Column('band', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('entry_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('band', 'entry_id')
    )
    op.create_index(op.f('ix_classifier_campaign_bands_at_us'), 'classifier_campaign_bands', ['at_us'], unique=False)
    op.create_table('classifier_campaigns',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('authors', sa.Integer(), nullable=False),
    sa.Column('last_at_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('classifier_campaign_authors',
    sa.Column('campaign_id', sa.String(length=16), nullable=False),
    sa.Column('author', sa.String(length=512), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', 'author')
    )
    op.create_table('classifier_spike_counts',
    sa.Column('account_id', sa.String(length=256), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('window_start_us', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('samples', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'key', 'window_start_us')
    )
    op.create_index(op.f('ix_classifier_spike_counts_window_start_us'), 'classifier_spike_counts',
                    ['window_start_us'], unique=False)
    op.create_table('classifier_spike_reports',
    sa.Column('account_id', sa.String(length=256), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('window_start_us', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'key', 'window_start_us')
    )
    op.create_index(op.f('ix_classifier_spike_reports_window_start_us'), 'classifier_spike_reports',
                    ['window_start_us'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_classifier_spike_reports_window_start_us'), table_name='classifier_spike_reports')
    op.drop_table('classifier_spike_reports')
    op.drop_index(op.f('ix_classifier_spike_counts_window_start_us'), table_name='classifier_spike_counts')
    op.drop_table('classifier_spike_counts')
    op.drop_table('classifier_campaign_authors')
    op.drop_table('classifier_campaigns')
    op.drop_index(op.f('ix_classifier_campaign_bands_at_us'), table_name='classifier_campaign_bands')
    op.drop_table('classifier_campaign_bands')
    op.drop_index(op.f('ix_classifier_campaign_entries_at_us'), table_name='classifier_campaign_entries')
    op.drop_table('classifier_campaign_entries')
