"""router: planning's stored forecasts (``router_planning_forecasts``, one row per series, with
the time it was computed) and the teams' rosters (``router_planning_rosters``, shifts as data)

Revision ID: 0012_router_planning
Revises: 0011_router_token_expiry
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_router_planning"
down_revision = "0011_router_token_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "router_planning_forecasts",
        sa.Column("series", sa.String(length=300), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("series"),
    )
    op.create_index(
        "ix_router_planning_forecasts_queue", "router_planning_forecasts", ["queue"], unique=False
    )
    op.create_table(
        "router_planning_rosters",
        sa.Column("team", sa.String(length=128), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team"),
    )


def downgrade() -> None:
    op.drop_table("router_planning_rosters")
    op.drop_index("ix_router_planning_forecasts_queue", table_name="router_planning_forecasts")
    op.drop_table("router_planning_forecasts")
