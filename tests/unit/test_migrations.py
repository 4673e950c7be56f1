"""The migrations own the schema: a fresh SQLite or PostgreSQL database migrated to head has
exactly the tables the stores use, a second run changes nothing, an older database keeps its
rows, and a store on an unmigrated database says to migrate instead of creating a table."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Set

import pytest
from sqlalchemy import MetaData, Table, inspect, insert, select

from bot import db, schema
from bot.booking import store as booking_store
from bot.knowledge import store as knowledge_store
from bot.migrations import MIGRATIONS, applied_versions, migrate
from bot.privacy import audit
from bot.privacy.erase import ErasureError, erase_sender
from bot.privacy.retention import RetentionError, run_retention
from bot.settings import PROJECT_ROOT
from bot.staff import store as staff_store
from bot.staff import users
from bot.web import feedback
from tests.databases import scratch_postgres

BASELINE = ("knowledge_topics", "knowledge_quotes", "booking_requests", "feedback",
            "staff_users", "staff_audit", "staff_changes", "staff_labels", "staff_models")
STORE_TABLES = (set(booking_store.TABLES) | set(staff_store.TABLES) | set(audit.TABLES)
                | set(knowledge_store.TABLES) | set(feedback.TABLES))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind (PostgreSQL: a database of its own, dropped after)."""
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'clinic.db'}"
        yield database_url
    else:
        with scratch_postgres() as database_url:
            yield database_url
    db.get_engine(database_url).dispose()
    schema.forget_checks()


def tables(url: str) -> Set[str]:
    return set(inspect(db.get_engine(url)).get_table_names())


def test_head_has_exactly_the_tables_the_stores_use_in_their_declared_shape(url: str) -> None:
    assert migrate(url) == [step.version for step in MIGRATIONS]
    assert STORE_TABLES == set(schema.Base.metadata.tables), "a declared table no store uses"
    assert tables(url) == STORE_TABLES | {"schema_version"}
    inspector = inspect(db.get_engine(url))
    for name, table in schema.Base.metadata.tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name
        declared = {index.name for index in table.indexes}
        assert declared <= {index["name"] for index in inspector.get_indexes(name)}, name
    quote_indexes = {index["name"] for index in inspector.get_indexes("knowledge_quotes")}
    assert "ix_knowledge_quotes_topic_id" in quote_indexes


def test_migrating_twice_changes_nothing(url: str) -> None:
    migrate(url)
    before = (tables(url), applied_versions(url))
    assert migrate(url) == []
    assert (tables(url), applied_versions(url)) == before


def test_stores_on_an_unmigrated_database_say_to_migrate_and_create_nothing(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIVACY_AUDIT_KEY", "test-key")
    request = booking_store.BookingRequest("Sam Okafor", "sam@example.org", "email", "mornings")
    with pytest.raises(booking_store.BookingStoreError, match="deploy migrate"):
        booking_store.save_booking(request, "sender-1", url)
    with pytest.raises(booking_store.BookingStoreError, match="no table booking_requests"):
        booking_store.list_bookings(url)
    with pytest.raises(schema.SchemaNotReady, match="staff_users"):
        users.add_user(url, None, "carol", users.CLINICIAN, "a long passphrase")
    with pytest.raises(schema.SchemaNotReady, match="knowledge_topics"):
        knowledge_store.sync_topics(knowledge_store.load_topics_file(), url)
    with pytest.raises(schema.SchemaNotReady, match="feedback"):
        feedback.store_feedback(feedback.Feedback("sender-1", "up"), url)
    tracker = f"sqlite:///{Path(url.split('///')[-1]).parent / 'tracker.db'}" \
        if url.startswith("sqlite") else url
    with pytest.raises(ErasureError, match="privacy_audit"):
        erase_sender("sender-1", database_url=url, tracker_database_url=tracker)
    with pytest.raises(RetentionError, match="deploy migrate"):
        run_retention(database_url=url, tracker_database_url=tracker)
    assert tables(url) == set(), "a store created a table"
    migrate(url)
    assert booking_store.save_booking(request, "sender-1", url).created, \
        "after migrating, the same process uses the tables"


def _first_release_database(url: str) -> MetaData:
    """The tables as the first release made them, before migrations: no ``kind`` column."""
    old = MetaData()
    for name in BASELINE:
        source = schema.Base.metadata.tables[name]
        if name == "booking_requests":
            Table(name, old, *(column._copy() for column in source.columns
                               if column.name != "kind"))
        else:
            source.to_metadata(old)
    old.create_all(db.get_engine(url))
    return old


def test_a_database_from_before_migrations_is_adopted_and_keeps_its_rows(url: str) -> None:
    old = _first_release_database(url)
    stamp = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
    with db.get_engine(url).begin() as connection:
        connection.execute(insert(old.tables["booking_requests"]).values(
            reference="HF-AAAAAA", created_at=stamp, status="new", name="Old Person",
            contact="old@example.org", contact_kind="email", times_text="any",
            consent_at=stamp, conversation_hash="0" * 64, idempotency_key="1" * 64,
        ))
    assert "kind" not in {c["name"] for c in inspect(db.get_engine(url)).get_columns(
        "booking_requests")}
    assert migrate(url) == [step.version for step in MIGRATIONS]
    assert tables(url) == STORE_TABLES | {"schema_version"}
    kept = booking_store.get_booking("HF-AAAAAA", url)
    assert kept is not None and kept.name == "Old Person"
    assert kept.kind == booking_store.KIND_BOOKING, "the new column has its default"


def test_a_database_of_the_previous_release_gets_only_the_new_step(url: str) -> None:
    migrate(url, MIGRATIONS[:3])
    request = booking_store.BookingRequest("Sam Okafor", "sam@example.org", "email", "mornings")
    with db.session_scope(url) as session:
        session.add(schema.BookingRequestRow(
            reference="HF-BBBBBB", created_at=datetime.now(timezone.utc), status="new",
            name=request.name, contact=request.contact, contact_kind="email",
            times_text="mornings", consent_at=datetime.now(timezone.utc),
            conversation_hash="2" * 64, idempotency_key="3" * 64, kind="booking"))
    assert "privacy_audit" not in tables(url)
    assert migrate(url) == [4]
    assert tables(url) == STORE_TABLES | {"schema_version"}
    with db.session_scope(url) as session:
        assert session.execute(select(schema.BookingRequestRow.reference)).scalars().all() \
            == ["HF-BBBBBB"]


# -- where the schema is made: the steps only, and arrows pointing down ------------------


def _imports(path: Path) -> Set[str]:
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_steps_do_not_import_the_runner_and_the_sql_layer_imports_no_upper_floor() -> None:
    steps = _imports(PROJECT_ROOT / "bot" / "migrations" / "steps.py")
    assert not any(name.startswith("bot.migrations") for name in steps), steps
    assert {name for name in steps if name.startswith("bot")} == {"bot"}  # from bot import schema
    for module, allowed in (("db.py", {"bot.settings"}), ("schema.py", {"bot.db", "bot.settings"})):
        upward = {name for name in _imports(PROJECT_ROOT / "bot" / module)
                  if name.startswith("bot")} - allowed
        assert not upward, f"bot/{module} imports {upward}"
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, bot.db, bot.schema; "
         "print(sorted(m for m in sys.modules if m.startswith('bot')))"],
        capture_output=True, text=True, check=True, cwd=PROJECT_ROOT,
    ).stdout
    settings_parts = {"bot.settings.environment"}  # the settings package's own modules
    assert [m for m in eval(loaded) if m not in settings_parts] == [  # noqa: S307
        "bot", "bot.db", "bot.schema", "bot.settings"]


# Rasa's tables (the tracker store's ``events``) are Rasa's: created where Rasa's are made.
RASA_TABLE_MAKERS = {"bot/deploy/prod.py", "bot/staff/benchmark.py"}


def test_only_the_migration_steps_create_project_tables() -> None:
    makers = set()
    for path in (PROJECT_ROOT / "bot").rglob("*.py"):
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        if any(call in source for call in ("create_all(", "CREATE TABLE", "__table__.create(")):
            makers.add(relative)
    assert makers - RASA_TABLE_MAKERS <= {"bot/migrations/runner.py"}, makers
    runner = (PROJECT_ROOT / "bot" / "migrations" / "runner.py").read_text(encoding="utf-8")
    assert "Base.metadata" not in runner, "the runner creates only its schema_version table"
