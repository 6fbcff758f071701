"""Alembic environment of the router's tables (see ``shared.migrate.run_env``)."""

from services.router import tables
from services.router.migrations import HISTORY
from shared.migrate import run_env

run_env(HISTORY, tables)
