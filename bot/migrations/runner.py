"""A small versioned-migration runner over SQLAlchemy, in place of Alembic.

Alembic brings a second configuration (``alembic.ini``, ``env.py``, a script directory) for
what this project needs: an ordered list of steps, a ``schema_version`` table that records
which ran, and one transaction per run so a failed step leaves the database as it was
(PostgreSQL runs DDL inside transactions). Replicas that start together take a PostgreSQL
advisory lock first, so the steps run once; the others wait and then find nothing to do.

Tables the code declares (``bot.db.TABLE_MODULES``) are created when missing after the steps,
so a new table needs no step; a change to an existing table (a column, an index) does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, List, Optional, Sequence, Set

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.engine import Connection

from bot import db

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


@dataclass(frozen=True)
class Migration:
    """One step: ``upgrade`` runs inside the run's transaction on ``connection``."""

    version: int
    description: str
    upgrade: Callable[[Connection], None]


def _check_order(steps: Sequence[Migration]) -> None:
    versions = [step.version for step in steps]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise MigrationError(f"migration versions must be unique, ascending and >= 1: {versions}")


def declared_tables(connection: Connection) -> None:
    """Create every table the code declares that the database lacks (never alters one)."""
    _import_table_modules()
    db.Base.metadata.create_all(connection)


def _import_table_modules() -> None:
    import importlib

    for module in db.TABLE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:  # a feature not installed in this tree
            if not (error.name and module.startswith(error.name)):
                raise


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
        from bot.migrations.steps import MIGRATIONS

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
        declared_tables(connection)
    return ran
