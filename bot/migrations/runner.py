"""A small versioned-migration runner over SQLAlchemy, in place of Alembic.

Alembic brings a second configuration (``alembic.ini``, ``env.py``, a script directory) for
what this project needs: an ordered list of steps, a ``schema_version`` table that records
which ran, and one transaction per run so a failed step leaves the database as it was
(PostgreSQL runs DDL inside transactions). Replicas that start together take a PostgreSQL
advisory lock first, so the steps run once; the others wait and then find nothing to do.

The steps (``steps.py``) are the only code that creates or changes the project's tables;
a new table, column or index is a new step. The runner imports the steps, never the other way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import List, Optional, Sequence, Set

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select, text

from bot import db
from bot.migrations.steps import MIGRATIONS, Migration

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key: any constant the other users of the database do not take.
ADVISORY_LOCK_KEY = 7_202_601

_version_metadata = MetaData()
schema_version = Table(
    "schema_version",
    _version_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


class MigrationError(RuntimeError):
    """A migration cannot run; the message says which step and what to check."""


def _check_order(steps: Sequence[Migration]) -> None:
    versions = [step.version for step in steps]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise MigrationError(f"migration versions must be unique, ascending and >= 1: {versions}")


def applied_versions(url: Optional[str] = None) -> Set[int]:
    """Versions recorded in ``schema_version`` (empty when the table does not exist yet)."""
    engine = db.get_engine(url)
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, schema_version.name):
            return set()
        return set(connection.execute(select(schema_version.c.version)).scalars())


def migrate(url: Optional[str] = None, steps: Optional[Sequence[Migration]] = None) -> List[int]:
    """Run the steps not yet applied, in order, in one transaction; return their versions."""
    if steps is None:
        steps = MIGRATIONS
    _check_order(steps)
    engine = db.get_engine(url)
    ran: List[int] = []
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": ADVISORY_LOCK_KEY})
        _version_metadata.create_all(connection)
        done = set(connection.execute(select(schema_version.c.version)).scalars())
        unknown = done - {step.version for step in steps}
        if unknown:
            raise MigrationError(
                f"the database has schema versions {sorted(unknown)} this code does not know; "
                "it was migrated by a newer release: deploy that release or restore a backup"
            )
        for step in steps:
            if step.version in done:
                continue
            logger.info("migration %04d: %s", step.version, step.description)
            try:
                step.upgrade(connection)
            except Exception as error:
                raise MigrationError(
                    f"migration {step.version:04d} ({step.description}) failed: {error}; "
                    "nothing was changed"
                ) from error
            connection.execute(insert(schema_version).values(
                version=step.version, description=step.description,
                applied_at=datetime.now(timezone.utc),
            ))
            ran.append(step.version)
    return ran
