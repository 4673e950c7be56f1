"""Versioned schema migrations for the clinic database (knowledge, bookings, staff, feedback).

``python -m bot deploy migrate`` (and ``make run-prod``) brings ``DATABASE_URL`` to the newest
version. The runner is in ``runner.py``, the ordered steps in ``steps.py`` (the runner imports
the steps); the tables are declared in ``bot.schema``. The steps are the only code that creates
the project's tables: the stores check that theirs exist and never create one. Rasa's tracker
store is not managed here: Rasa creates and owns its ``events`` table.
"""

from bot.migrations.runner import MigrationError, applied_versions, migrate
from bot.migrations.steps import MIGRATIONS, Migration

__all__ = ["MIGRATIONS", "Migration", "MigrationError", "applied_versions", "migrate"]
