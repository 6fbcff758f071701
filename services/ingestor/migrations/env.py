"""Alembic environment of the ingestor's tables (see ``shared.migrate.run_env``)."""

from services.ingestor import tables
from services.ingestor.migrations import HISTORY
from shared.migrate import run_env

run_env(HISTORY, tables)
