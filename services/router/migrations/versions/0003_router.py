"""router: directory, conversations, assignments, SLA policies, audit, lifecycle, drafts, tokens, KPI facts;
routed_items gains routing inputs and work state

Revision ID: 0003_router
Revises: 0001_router
Create Date: 2026-11-22 22:57:17.889457
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_router"
down_revision = "0001_router"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('router_api_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('team_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_table('router_assignments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('agent_id', sa.String(length=128), nullable=False),
    sa.Column('cause', sa.String(length=32), nullable=False),
    sa.Column('relax_level', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('router_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_assignments_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_router_assignments_message_key'), ['message_key'], unique=False)

    op.create_table('router_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_key', sa.String(length=1024), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('router_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_audit_message_key'), ['message_key'], unique=False)

    op.create_table('router_config',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('router_conversations',
    sa.Column('conversation_key', sa.String(length=1024), nullable=False),
    sa.Column('agent_id', sa.String(length=128), nullable=True),
    sa.Column('open_items', sa.Integer(), nullable=False),
    sa.Column('first_sentiment', sa.String(length=16), nullable=True),
    sa.Column('last_sentiment', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('conversation_key')
    )
    op.create_table('router_drafts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reviewer', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.String(length=1024), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('router_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_drafts_message_key'), ['message_key'], unique=False)

    op.create_table('router_lifecycle_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('router_message_facts',
    sa.Column('message_key', sa.String(length=1024), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=128), nullable=True),
    sa.Column('sentiment', sa.String(length=16), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_key')
    )
    op.create_table('router_sla_policies',
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('business_minutes', sa.Integer(), nullable=False),
    sa.Column('policy', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'urgency')
    )
    op.create_table('router_webhook_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('endpoint', sa.String(length=128), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('event_type', sa.String(length=128), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=1024), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('endpoint', 'event_id', name='uq_router_webhook_endpoint_event')
    )
    with op.batch_alter_table('router_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_webhook_deliveries_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_router_webhook_deliveries_next_at'), ['next_at'], unique=False)

    op.create_table('router_teams',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('router_agents',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('team_id', sa.String(length=128), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('load', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trainee', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['router_teams.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('router_queues',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('team_id', sa.String(length=128), nullable=False),
    sa.Column('skill', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['router_teams.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('routed_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('urgency', sa.String(length=16), nullable=False, server_default='normal'))
        batch_op.add_column(sa.Column('sentiment', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('vip', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('four_eyes', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('rule', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('sla_business_s', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('work_state', sa.String(length=16), nullable=False, server_default='waiting'))
        batch_op.add_column(sa.Column('agent_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('relax_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('responses', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('response_s_total', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handling_s', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('satisfaction', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('unstaffed_notified', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_routed_items_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routed_items_work_state'), ['work_state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('routed_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routed_items_work_state'))
        batch_op.drop_index(batch_op.f('ix_routed_items_agent_id'))
        batch_op.drop_column('unstaffed_notified')
        batch_op.drop_column('satisfaction')
        batch_op.drop_column('handling_s')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('response_s_total')
        batch_op.drop_column('responses')
        batch_op.drop_column('last_response_at')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('relax_level')
        batch_op.drop_column('agent_id')
        batch_op.drop_column('work_state')
        batch_op.drop_column('received_at')
        batch_op.drop_column('sla_business_s')
        batch_op.drop_column('rule')
        batch_op.drop_column('four_eyes')
        batch_op.drop_column('vip')
        batch_op.drop_column('sentiment')
        batch_op.drop_column('urgency')
        batch_op.drop_column('tags')
        batch_op.drop_column('reason')
        batch_op.drop_column('channel')
        batch_op.drop_column('language')

    with op.batch_alter_table('router_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_router_webhook_deliveries_next_at'))
        batch_op.drop_index(batch_op.f('ix_router_webhook_deliveries_state'))

    op.drop_table('router_webhook_deliveries')
    op.drop_table('router_queues')
    op.drop_table('router_agents')
    op.drop_table('router_teams')
    op.drop_table('router_sla_policies')
    op.drop_table('router_message_facts')
    op.drop_table('router_lifecycle_events')
    with op.batch_alter_table('router_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_router_drafts_message_key'))

    op.drop_table('router_drafts')
    op.drop_table('router_conversations')
    op.drop_table('router_config')
    with op.batch_alter_table('router_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_router_audit_message_key'))

    op.drop_table('router_audit')
    with op.batch_alter_table('router_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_router_assignments_message_key'))
        batch_op.drop_index(batch_op.f('ix_router_assignments_agent_id'))

    op.drop_table('router_assignments')
    op.drop_table('router_api_tokens')
