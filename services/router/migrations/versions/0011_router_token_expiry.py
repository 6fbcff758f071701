"""router: API tokens expire and can be revoked (``expires_at``, ``revoked_at``, ``revoked_by``);
tokens issued before keep working until revoked (``expires_at`` NULL)

Revision ID: 0011_router_token_expiry
Revises: 0010_router_triage
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_router_token_expiry"
down_revision = "0010_router_triage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("router_api_tokens") as batch:
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
