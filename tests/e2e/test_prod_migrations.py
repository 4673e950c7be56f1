"""Schema migrations on the real PostgreSQL: fresh database, re-runs, replicas at once."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Iterator, List

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot import db
from bot.deploy import prod
from bot.migrations import MIGRATIONS, Migration, MigrationError, applied_versions, migrate

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
# Tests running side by side on one PostgreSQL server give their databases their own prefix.
DATABASE_PREFIX = os.environ.get("MIGRATION_TEST_DATABASE_PREFIX", "clinic_migrate")


@pytest.fixture
def database() -> Iterator[str]:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        pytest.skip("needs PostgreSQL on 127.0.0.1:5432")
    url = f"{POSTGRES}/{DATABASE_PREFIX}_{uuid.uuid4().hex[:8]}"
    assert prod.ensure_database(url) is True
    assert prod.ensure_database(url) is False
    try:
        yield url
    finally:
        db.get_engine(url).dispose()
        prod.drop_database(url)


def test_a_fresh_database_gets_every_table_and_records_each_step(database: str) -> None:
    assert migrate(database) == [step.version for step in MIGRATIONS]
    tables = set(inspect(db.get_engine(database)).get_table_names())
    assert {"knowledge_topics", "knowledge_quotes", "booking_requests", "schema_version"} <= tables
    indexes = inspect(db.get_engine(database)).get_indexes("knowledge_quotes")
    assert "ix_knowledge_quotes_topic_id" in {index["name"] for index in indexes}
    assert applied_versions(database) == {step.version for step in MIGRATIONS}
    assert migrate(database) == [], "a second run must change nothing"


def test_a_failed_step_leaves_the_database_as_it_was(database: str) -> None:
    def broken(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE half_done (id integer)"))
        raise RuntimeError("disk full")

    steps = list(MIGRATIONS) + [Migration(99, "breaks", broken)]
    with pytest.raises(MigrationError, match="0099"):
        migrate(database, steps)
    assert applied_versions(database) == set()
    assert "half_done" not in inspect(db.get_engine(database)).get_table_names()


def test_replicas_migrating_at_once_run_each_step_once(database: str) -> None:
    runs: List[int] = []

    def slow(connection: Connection) -> None:
        runs.append(1)
        time.sleep(0.5)
        connection.execute(text("CREATE TABLE only_once (id integer)"))

    steps = list(MIGRATIONS) + [Migration(max(s.version for s in MIGRATIONS) + 1, "slow", slow)]
    results: List[List[int]] = []
    threads = [threading.Thread(target=lambda: results.append(migrate(database, steps)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1
    assert sorted(map(len, results)) == [0, 0, len(steps)]


def test_a_database_from_a_newer_release_is_refused(database: str) -> None:
    migrate(database, list(MIGRATIONS) + [Migration(7, "newer", lambda connection: None)])
    with pytest.raises(MigrationError, match="newer release"):
        migrate(database)
