"""Alembic environment of the classifier's tables (see ``shared.migrate.run_env``)."""

from services.classifier import tables
from services.classifier.migrations import HISTORY
from shared.migrate import run_env

run_env(HISTORY, tables)
