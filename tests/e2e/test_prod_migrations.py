"""Schema migrations on the real PostgreSQL: fresh database, re-runs, replicas at once."""

from __future__ import annotations

import threading
import time
from typing import Iterator, List

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot import db
from bot.migrations import MIGRATIONS, Migration, MigrationError, applied_versions, migrate
from tests.databases import scratch_postgres



@pytest.fixture
def database() -> Iterator[str]:
    with scratch_postgres() as url:
        yield url


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
