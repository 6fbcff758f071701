"""notifier: incidents, their items, deliveries, digest items and durable SLA timers

Revision ID: 0004_notifier
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_notifier"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifier_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('person', sa.String(length=128), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=1024), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('incident_id', 'round', 'step', 'person', 'target', name='uq_notifier_deliveries_once')
    )
    op.create_index(op.f('ix_notifier_deliveries_created_at'), 'notifier_deliveries', ['created_at'], unique=False)
    op.create_index(op.f('ix_notifier_deliveries_incident_id'), 'notifier_deliveries', ['incident_id'], unique=False)
    op.create_table('notifier_digest_items',
    sa.Column('item_event_id', sa.String(length=128), nullable=False),
    sa.Column('team', sa.String(length=128), nullable=False),
    sa.Column('summary', sa.String(length=1024), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('item_event_id')
    )
    op.create_index(op.f('ix_notifier_digest_items_due_at'), 'notifier_digest_items', ['due_at'], unique=False)
    op.create_table('notifier_incident_items',
    sa.Column('source_id', sa.String(length=256), nullable=False),
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('item_event_id', sa.String(length=128), nullable=True),
    sa.Column('queue', sa.String(length=128), nullable=True),
    sa.Column('message_key', sa.String(length=1024), nullable=True),
    sa.Column('attached_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source_id')
    )
    op.create_index(op.f('ix_notifier_incident_items_incident_id'), 'notifier_incident_items', ['incident_id'], unique=False)
    op.create_table('notifier_incidents',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('open_key', sa.String(length=512), nullable=True),
    sa.Column('team', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=256), nullable=False),
    sa.Column('summary', sa.String(length=1024), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('passes_left', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acked_by', sa.String(length=128), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    op.create_index(op.f('ix_notifier_incidents_key'), 'notifier_incidents', ['key'], unique=False)
    op.create_index(op.f('ix_notifier_incidents_next_at'), 'notifier_incidents', ['next_at'], unique=False)
    op.create_table('notifier_sla_timers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_event_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('incident_key', sa.String(length=512), nullable=False),
    sa.Column('team', sa.String(length=128), nullable=False),
    sa.Column('queue', sa.String(length=128), nullable=False),
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('summary', sa.String(length=1024), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_event_id', 'kind', name='uq_notifier_sla_timers_item_kind')
    )
    op.create_index(op.f('ix_notifier_sla_timers_due_at'), 'notifier_sla_timers', ['due_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notifier_sla_timers_due_at'), table_name='notifier_sla_timers')
    op.drop_table('notifier_sla_timers')
    op.drop_index(op.f('ix_notifier_incidents_next_at'), table_name='notifier_incidents')
    op.drop_index(op.f('ix_notifier_incidents_key'), table_name='notifier_incidents')
    op.drop_table('notifier_incidents')
    op.drop_index(op.f('ix_notifier_incident_items_incident_id'), table_name='notifier_incident_items')
    op.drop_table('notifier_incident_items')
    op.drop_index(op.f('ix_notifier_digest_items_due_at'), table_name='notifier_digest_items')
    op.drop_table('notifier_digest_items')
    op.drop_index(op.f('ix_notifier_deliveries_incident_id'), table_name='notifier_deliveries')
    op.drop_index(op.f('ix_notifier_deliveries_created_at'), table_name='notifier_deliveries')
    op.drop_table('notifier_deliveries')
