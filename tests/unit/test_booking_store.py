"""The booking table, the same tests against SQLite and the local PostgreSQL.

PostgreSQL runs in a schema made for this run and dropped after it; set
``BOOKING_TEST_POSTGRES_URL`` to use another server. Without a reachable server those
cases are skipped with the reason.
"""

from __future__ import annotations

import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, List

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot import db, schema
from bot.booking import store
from bot.booking.store import (
    REFERENCE_ALPHABET,
    BookingRequest,
    BookingRequestRow,
    BookingStoreError,
    list_bookings,
    save_booking,
)
from bot.migrations import migrate

POSTGRES_URL = os.environ.get(
    "BOOKING_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)

REQUEST = BookingRequest(
    name="Maria Gonzalez",
    contact="maria@example.com",
    contact_kind="email",
    times_text="Tuesday mornings",
    times_normalised="Tue; morning",
    reason="IBS and low mood",
)


def _postgres_schema_url() -> Iterator[str]:
    admin = create_engine(POSTGRES_URL, future=True, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {error.orig}")
    schema = f"booking_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated name, not input
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty booking database of each kind, migrated."""
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'bookings.db'}"
        migrate(database_url)
        yield database_url
    else:
        generator = _postgres_schema_url()
        database_url = next(generator)
        migrate(database_url)
        yield database_url
    db.get_engine(database_url).dispose()
    db.get_engine.cache_clear()
    schema.forget_checks()
    if request.param != "sqlite":
        next(generator, None)


def _count(url: str) -> int:
    with db.session_scope(url) as session:
        return int(session.execute(select(func.count(BookingRequestRow.id))).scalar_one())


def test_a_request_is_committed_with_a_short_unambiguous_reference(url: str) -> None:
    result = save_booking(REQUEST, "sender-1", url)
    assert result.created
    assert result.reference.startswith("HF-") and len(result.reference) == 9
    assert set(result.reference[3:]) <= set(REFERENCE_ALPHABET)
    assert not set(result.reference[3:]) & set("01OIL")
    # Read back through a fresh engine: the row is committed, not just flushed.
    db.get_engine.cache_clear()
    [row] = list_bookings(url)
    assert (row.reference, row.status, row.name, row.contact, row.contact_kind) == (
        result.reference, "new", "Maria Gonzalez", "maria@example.com", "email")
    assert (row.times_text, row.times_normalised, row.reason) == (
        "Tuesday mornings", "Tue; morning", "IBS and low mood")


def test_the_conversation_id_is_stored_hashed(url: str) -> None:
    save_booking(REQUEST, "telegram:123456789", url)
    with db.session_scope(url) as session:
        row = session.execute(select(BookingRequestRow)).scalar_one()
        assert "123456789" not in row.conversation_hash
        assert row.consent_at is not None and row.created_at is not None


@pytest.mark.parametrize(
    "hostile",
    [
        "Robert'); DROP TABLE booking_requests;--",
        "<script>alert(\"x\")</script>",
        "O'Brien \"the\" {clinic_phone} %(name)s \\ \u00e9\u00e8 \U0001f600",
    ],
)
def test_quotes_sql_and_markup_are_stored_literally(url: str, hostile: str) -> None:
    request = BookingRequest(hostile[:100], "a@example.com", "email", hostile, None, hostile)
    save_booking(request, "sender-hostile", url)
    [row] = list_bookings(url)
    assert (row.name, row.times_text, row.reason) == (hostile[:100], hostile, hostile)
    assert _count(url) == 1  # and the table is still there


def test_the_same_confirmation_twice_stores_one_request(url: str) -> None:
    first = save_booking(REQUEST, "sender-2", url)
    again = save_booking(REQUEST, "sender-2", url)
    assert (again.reference, again.created) == (first.reference, False)
    assert _count(url) == 1


def test_other_senders_or_details_are_new_requests(url: str) -> None:
    first = save_booking(REQUEST, "sender-3", url)
    other_sender = save_booking(REQUEST, "sender-4", url)
    changed = save_booking(
        BookingRequest("Maria Gonzalez", "+14035550142", "phone", "Tuesday mornings"),
        "sender-3", url,
    )
    assert len({first.reference, other_sender.reference, changed.reference}) == 3
    assert _count(url) == 3


def test_a_taken_reference_is_redrawn(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(["HF-AAAAAA", "HF-AAAAAA", "HF-BBBBBB"])
    monkeypatch.setattr(store, "new_reference", lambda: next(draws))
    assert save_booking(REQUEST, "sender-5", url).reference == "HF-AAAAAA"
    assert save_booking(REQUEST, "sender-6", url).reference == "HF-BBBBBB"


def test_fifty_concurrent_requests_get_fifty_distinct_references(url: str) -> None:
    def book(number: int) -> str:
        request = BookingRequest(f"Person {number}", f"p{number}@example.com", "email", "any")
        return save_booking(request, f"concurrent-{number}", url).reference

    with ThreadPoolExecutor(max_workers=50) as pool:
        references: List[str] = list(pool.map(book, range(50)))
    assert len(set(references)) == 50
    assert _count(url) == 50
    assert {row.reference for row in list_bookings(url)} == set(references)


def test_list_is_newest_first_and_filters(url: str) -> None:
    start = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
    made = [
        save_booking(BookingRequest(f"N{i}", f"n{i}@example.com", "email", "any"), f"s{i}",
                     url, now=start + timedelta(hours=i)).reference
        for i in range(3)
    ]
    assert [row.reference for row in list_bookings(url)] == made[::-1]
    assert [row.reference for row in list_bookings(url, limit=2)] == made[:0:-1]
    assert list_bookings(url, status="called") == []


def test_a_failed_commit_leaves_nothing_half_written(url: str) -> None:
    def refuse(session: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))

    event.listen(Session, "before_commit", refuse)
    try:
        with pytest.raises(BookingStoreError):
            save_booking(REQUEST, "sender-7", url)
    finally:
        event.remove(Session, "before_commit", refuse)
    assert _count(url) == 0


def test_database_down_raises_a_store_error_without_details_in_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = "postgresql+psycopg2://postgres@127.0.0.1:1/none?connect_timeout=2"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BookingStoreError):
        save_booking(REQUEST, "sender-8", down)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for detail in ("Maria", "maria@example.com", "Tuesday", "IBS"):
        assert detail not in logged
    db.get_engine.cache_clear()


def test_log_lines_name_the_reference_only(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    reference = save_booking(REQUEST, "sender-9", url).reference
    save_booking(REQUEST, "sender-9", url)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert reference in logged
    for detail in ("Maria", "maria@example.com", "Tuesday", "IBS", "sender-9"):
        assert detail not in logged
