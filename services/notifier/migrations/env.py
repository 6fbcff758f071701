"""Alembic environment of the notifier's tables (see ``shared.migrate.run_env``)."""

from services.notifier import tables
from services.notifier.migrations import HISTORY
from shared.migrate import run_env

run_env(HISTORY, tables)
