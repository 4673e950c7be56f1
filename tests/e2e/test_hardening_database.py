"""The database going away, and kill -9, with PostgreSQL behind both stores.

The stack keeps conversations (tracker store) and booking requests in one PostgreSQL
database made for this module on the local server and dropped after it. The database is
made unavailable the way an outage looks to a client: new connections are refused and
the open ones are cut (``ALLOW_CONNECTIONS false`` + ``pg_terminate_backend``).
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.booking.store import list_bookings
from bot.deploy import serve
from tests.e2e.conftest import Assistant, start_assistant
from tests.e2e.test_hardening_outages import (
    assert_apology,
    booking_step,
    finish_after_crash,
    kill_rasa,
    letters,
    restart_rasa,
    walk_to_times,
)
from tests.unit.test_privacy_jobs import POSTGRES_ADMIN_URL, postgres_database

Messages = List[Dict[str, Any]]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    generator = postgres_database("hardening_e2e")
    yield next(generator)
    next(generator, None)


@pytest.fixture(scope="module")
def stack(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    running = start_assistant(tmp_path_factory.mktemp("pg"), TRACKER_DB_URL=database,
                              DATABASE_URL=database)
    try:
        yield running
    finally:
        serve.stop(running.config)


@contextmanager
def database_down(url: str) -> Iterator[None]:
    """Refuse new connections to the database and cut the open ones, then restore."""
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def user_texts(url: str, sender: str) -> List[str]:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' "
                "ORDER BY id"), {"s": sender})
            return [json.loads(data).get("text") for (data,) in rows]
    finally:
        engine.dispose()


def timed(assistant: Assistant, sender: str, message: str) -> Tuple[Messages, float]:
    started = time.monotonic()
    reply = assistant.send(sender, message, timeout=60)
    return reply, time.monotonic() - started


def test_database_down_gets_an_apology_nothing_half_written_then_recovers(
    stack: Assistant, database: str, record_property: Any
) -> None:
    who = f"pg-{uuid.uuid4().hex[:6]}"
    name, email = f"Dana Down {letters()}", f"dana.{uuid.uuid4().hex[:6]}@example.com"
    walk_to_times(stack, who, name, email)
    assert booking_step(stack.send(who, "tuesday mornings")) == "booking_reason"
    assert booking_step(stack.send(who, "/deny")) == "booking_consent"
    assert booking_step(stack.send(who, "yes")) == "confirm"
    stranger = f"pg-new-{uuid.uuid4().hex[:6]}"

    with database_down(database):
        confirm, seconds = timed(stack, who, "yes")
        record_property("apology_when_database_down_s", round(seconds, 3))
        print(f"\napology with the database down after {seconds:.2f} s")
        assert_apology(confirm)
        assert "submitted" not in json.dumps(confirm)
        assert seconds < 5
        # No fall-back to memory: a newcomer is not greeted from an empty in-memory store.
        hello, _ = timed(stack, stranger, "hello")
        assert_apology(hello)
        assert "Privacy notice" not in Assistant.text(hello)

    # Back: nothing of the failed turns was stored, the booking was not half-written.
    assert [b for b in list_bookings(database) if b.name == name] == []
    assert user_texts(database, stranger) == []
    assert user_texts(database, who)[-1] == "yes" and len(user_texts(database, who)) == 6

    # It recovers by itself: the same "yes" now stores the request, once.
    done = stack.send(who, "yes")
    assert booking_step(done) == "submitted"
    [row] = [b for b in list_bookings(database) if b.name == name]
    assert row.contact == email
    assert Assistant.topic(stack.send(stranger, "hello")) == "greet"
    assert user_texts(database, stranger) == ["hello"]


def test_kill_9_mid_booking_resumes_on_postgresql(stack: Assistant, database: str) -> None:
    who = f"pg-crash-{uuid.uuid4().hex[:6]}"
    name, email = f"Perry Crash {letters()}", f"perry.{uuid.uuid4().hex[:6]}@example.com"
    walk_to_times(stack, who, name, email)
    kill_rasa(stack)
    restart_rasa(stack)
    assert user_texts(database, who) == ["/book_appointment", name, email]
    reference = finish_after_crash(stack, who, name, email)
    [row] = [b for b in list_bookings(database) if b.name == name]
    assert row.reference == reference
