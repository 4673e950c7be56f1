"""Retention and erasure (bot.privacy), with backdated rows, on SQLite and PostgreSQL.

PostgreSQL: a database made for each test on the local server (127.0.0.1:5432, user
postgres; ``PRIVACY_TEST_POSTGRES_URL`` names another) and dropped after it. Without a
reachable server those cases are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot import db, schema
from bot.booking.store import BookingRequest, BookingRequestRow, list_bookings, save_booking
from bot.cli import main
from bot.migrations import migrate
from bot.privacy import audit, stores
from bot.privacy.erase import ErasureError, erase_booking, erase_sender
from bot.privacy.retention import retention_days, run_retention
from bot.settings import get_settings

POSTGRES_ADMIN_URL = os.environ.get(
    "PRIVACY_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
DAY = 86400.0


def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped (with its connections) afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error.orig}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))  # generated name, not input
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[str, str]]:
    """(clinic database, tracker database): two SQLite files, or one PostgreSQL database."""
    monkeypatch.setenv("PRIVACY_AUDIT_KEY", "test-key")
    if request.param == "sqlite":
        clinic, tracker = f"sqlite:///{tmp_path / 'clinic.db'}", f"sqlite:///{tmp_path / 't.db'}"
        generator = None
    else:
        generator = postgres_database("privacy_test")
        clinic = tracker = next(generator)
    monkeypatch.setenv("DATABASE_URL", clinic)
    monkeypatch.setenv("TRACKER_DB_URL", tracker)
    get_settings.cache_clear()
    stores.EVENTS.metadata.create_all(db.get_engine(tracker))
    migrate(clinic)
    yield clinic, tracker
    for url in {clinic, tracker}:
        db.get_engine(url).dispose()
    db.get_engine.cache_clear()
    get_settings.cache_clear()
    schema.forget_checks()
    if generator is not None:
        next(generator, None)


def add_events(tracker_url: str, sender: str, ages_in_days: List[float]) -> None:
    with db.get_engine(tracker_url).begin() as connection:
        for age in ages_in_days:
            stamp = NOW.timestamp() - age * DAY
            connection.execute(insert(stores.EVENTS).values(
                sender_id=sender, type_name="user", timestamp=stamp, intent_name="greet",
                data=json.dumps({"event": "user", "timestamp": stamp, "text": "hello"})))


def senders(tracker_url: str) -> Dict[str, int]:
    with db.get_engine(tracker_url).connect() as connection:
        rows = connection.execute(
            select(stores.EVENTS.c.sender_id, func.count()).group_by(stores.EVENTS.c.sender_id))
        return {sender: int(count) for sender, count in rows}


def add_booking(clinic_url: str, sender: str, age_days: float, status: str = "new",
                name: str = "Maria Testperson") -> str:
    request = BookingRequest(name, f"{uuid.uuid4().hex[:8]}@example.com", "email",
                             "tuesday mornings")
    reference = save_booking(request, sender, clinic_url,
                             now=NOW - timedelta(days=age_days)).reference
    with db.session_scope(clinic_url) as session:
        row = session.execute(select(BookingRequestRow).where(
            BookingRequestRow.reference == reference)).scalar_one()
        row.status = status
    return reference


def references(clinic_url: str) -> List[str]:
    return sorted(b.reference for b in list_bookings(clinic_url))


def audit_rows(clinic_url: str) -> List[audit.AuditEntry]:
    return audit.entries(clinic_url)


# --- retention -----------------------------------------------------------------------


def test_retention_deletes_old_conversations_and_closed_bookings_only(
    urls: Tuple[str, str]
) -> None:
    clinic, tracker = urls
    add_events(tracker, "old", [120, 100, 95])
    add_events(tracker, "long-running", [200, 150, 1])  # last message yesterday: kept whole
    add_events(tracker, "edge", [89.9])
    old_closed = add_booking(clinic, "old", 120, "booked")
    old_cancelled = add_booking(clinic, "x", 91, "cancelled")
    recent_closed = add_booking(clinic, "y", 10, "booked")
    old_open = add_booking(clinic, "z", 200, "new")  # never handled: staff must see it

    done = run_retention(days=90, now=NOW, database_url=clinic, tracker_database_url=tracker)

    assert senders(tracker) == {"long-running": 3, "edge": 1}
    assert references(clinic) == sorted([recent_closed, old_open])
    assert old_closed not in references(clinic) and old_cancelled not in references(clinic)
    assert (done.conversations, done.events, done.bookings) == (1, 3, 2)
    [entry] = audit_rows(clinic)
    assert (entry.action, entry.via, entry.subject_hash) == ("retention", "cli", None)
    assert (entry.conversations, entry.events, entry.bookings) == (1, 3, 2)


def test_retention_with_nothing_old_deletes_nothing(urls: Tuple[str, str]) -> None:
    clinic, tracker = urls
    add_events(tracker, "fresh", [2, 1])
    add_booking(clinic, "fresh", 3, "booked")
    done = run_retention(days=90, now=NOW, database_url=clinic, tracker_database_url=tracker)
    assert (done.conversations, done.bookings) == (0, 0)
    assert senders(tracker) == {"fresh": 2} and len(references(clinic)) == 1


def test_retention_command_uses_the_configured_default(
    urls: Tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    clinic, tracker = urls
    recent = datetime.now(timezone.utc).timestamp()
    with db.get_engine(tracker).begin() as connection:
        for sender, stamp in (("stale", recent - 91 * DAY), ("current", recent - 89 * DAY)):
            connection.execute(insert(stores.EVENTS).values(
                sender_id=sender, type_name="user", timestamp=stamp, data="{}"))
    assert retention_days() == 90
    assert main(["privacy", "retention"]) == 0
    assert "deleted 1 conversation(s)" in capsys.readouterr().out
    assert senders(tracker) == {"current": 1}
    assert main(["privacy", "retention", "--days", "30"]) == 0
    assert senders(tracker) == {}


def test_retention_refuses_zero_days() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        retention_days(0)


# --- erasure -------------------------------------------------------------------------


def test_erasing_a_sender_removes_their_conversation_and_bookings_only(
    urls: Tuple[str, str]
) -> None:
    clinic, tracker = urls
    add_events(tracker, "telegram:5550134", [3, 2])
    add_events(tracker, "someone-else", [1])
    theirs = [add_booking(clinic, "telegram:5550134", 2), add_booking(clinic, "telegram:5550134", 1)]
    other = add_booking(clinic, "someone-else", 1)

    done = erase_sender("telegram:5550134", via="chat", database_url=clinic,
                        tracker_database_url=tracker)

    assert (done.conversations, done.events, done.bookings) == (1, 2, 2)
    assert sorted(done.references) == sorted(theirs)
    assert senders(tracker) == {"someone-else": 1}
    assert references(clinic) == [other]
    [entry] = audit_rows(clinic)
    assert (entry.action, entry.via, entry.bookings) == ("erase", "chat", 2)
    assert entry.subject_hash == audit.subject_hash("telegram:5550134")
    assert "5550134" not in (entry.subject_hash or "")
    assert [e.action for e in audit.entries(clinic, subject="telegram:5550134")] == ["erase"]
    assert audit.entries(clinic, subject="someone-else") == []


def test_erasing_by_booking_reference_finds_the_conversation(
    urls: Tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    clinic, tracker = urls
    add_events(tracker, "web-abc123", [1])
    add_events(tracker, "web-other", [1])
    reference = add_booking(clinic, "web-abc123", 1)
    kept = add_booking(clinic, "web-other", 1)

    assert main(["privacy", "erase", "--booking", reference.lower()]) == 0
    out = capsys.readouterr().out
    assert f"1 booking request(s) ({reference})" in out and "1 conversation(s)" in out
    assert senders(tracker) == {"web-other": 1}
    assert references(clinic) == [kept]
    assert audit.entries(clinic, subject="web-abc123")[0].via == "cli"


def test_erasing_from_the_command_line_by_sender(
    urls: Tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    clinic, tracker = urls
    add_events(tracker, "phone-request", [5])
    assert main(["privacy", "erase", "--sender", "phone-request"]) == 0
    assert "Erased 1 conversation(s)" in capsys.readouterr().out
    assert senders(tracker) == {}
    assert main(["privacy", "audit", "--sender", "phone-request"]) == 0
    assert "erase" in capsys.readouterr().out


def test_an_unknown_booking_reference_is_an_error(
    urls: Tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["privacy", "erase", "--booking", "HF-ZZZZZZ"]) == 2
    assert "no booking request has the reference" in capsys.readouterr().err
    assert erase_booking("HF-ZZZZZZ") is None


def test_one_sqlite_file_for_both_stores_does_not_lock(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVACY_AUDIT_KEY", "test-key")
    url = f"sqlite:///{tmp_path / 'one.db'}"
    stores.EVENTS.metadata.create_all(db.get_engine(url))
    migrate(url)
    add_events(url, "me", [1])
    add_booking(url, "me", 1)
    done = erase_sender("me", database_url=url, tracker_database_url=url)
    assert (done.conversations, done.bookings) == (1, 1)
    db.get_engine(url).dispose()


def test_a_failed_erasure_erases_nothing_and_can_be_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRIVACY_AUDIT_KEY", "test-key")
    clinic = f"sqlite:///{tmp_path / 'clinic.db'}"
    broken_tracker = "postgresql+psycopg2://postgres@127.0.0.1:1/down"  # nothing listens
    migrate(clinic)
    reference = add_booking(clinic, "me", 1)
    with pytest.raises(ErasureError, match="running the same erasure again is safe"):
        erase_sender("me", database_url=clinic, tracker_database_url=broken_tracker)
    assert references(clinic) == [reference], "the booking is still there"
    assert audit_rows(clinic) == [], "no audit row for an erasure that did not happen"
    working = f"sqlite:///{tmp_path / 't.db'}"
    stores.EVENTS.metadata.create_all(db.get_engine(working))
    assert erase_sender("me", database_url=clinic, tracker_database_url=working).bookings == 1
    db.get_engine.cache_clear()


def test_the_audit_key_is_generated_once_and_private(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIVACY_AUDIT_KEY", raising=False)
    key_file = tmp_path / "var" / "privacy-audit.key"
    first = audit._key(key_file)
    assert audit._key(key_file) == first and len(first) == 64
    assert key_file.stat().st_mode & 0o077 == 0


def test_tracker_url_fills_in_the_password() -> None:
    env = {"TRACKER_DB_URL": "postgresql://rasa@db:5432/tracker", "TRACKER_DB_PASSWORD": "s3cret"}
    assert stores.tracker_url(env) == "postgresql://rasa:s3cret@db:5432/tracker"
    assert stores.tracker_url({}).startswith("sqlite:///")

