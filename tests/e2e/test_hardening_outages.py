"""Outages and crashes, against the real servers on loopback (SQLite conversation store).

- the action server stopped, or hanging: an apology with the clinic's phone number within
  a few seconds, and answers again once it is back, without restarting Rasa;
- ``kill -9`` of the Rasa server in the middle of a booking, then a restart: the
  conversation resumes with its slots, the open form and its history.

The same crash on PostgreSQL, and the database going away, are in
test_hardening_database.py.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bot.channels import guard, rest
from bot.deploy import serve
from bot.settings import get_settings
from tests.e2e.conftest import Assistant, start_assistant

Messages = List[Dict[str, Any]]
QUESTION = "what is butyrate?"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    running = start_assistant(tmp_path_factory.mktemp("outages"))
    try:
        yield running
    finally:
        serve.stop(running.config)


def letters(count: int = 6) -> str:
    """A random, capitalised tag for a test person's name (a name with digits is refused)."""
    return uuid.uuid4().hex[:count].translate(str.maketrans("0123456789", "ghijklmnop")).capitalize()


def timed(assistant: Assistant, sender: str, text: str) -> Tuple[Messages, float]:
    started = time.monotonic()
    messages = assistant.send(sender, text, timeout=60)
    return messages, time.monotonic() - started


def assert_apology(messages: Messages) -> None:
    """The channel's apology: says sorry, gives the phone, names a topic, flags the error."""
    text = Assistant.text(messages)
    assert "Sorry" in text and get_settings().phone in text, text
    assert any(m.get("custom", {}).get("error") == "service_unavailable" for m in messages)
    assert guard.has_topic(messages)


def restart_actions(assistant: Assistant) -> None:
    serve.start_actions(assistant.config, serve.server_env(assistant.config))


def booking_step(messages: Messages) -> str:
    return next(str(m["custom"]["step"]) for m in messages
                if m.get("custom", {}).get("topic") == "booking")


# --- the action server ---------------------------------------------------------------


def test_action_server_down_gets_an_apology_then_recovers(
    stack: Assistant, record_property: Any
) -> None:
    who = f"down-{uuid.uuid4().hex[:6]}"
    assert Assistant.topic(stack.send(who, QUESTION)) == "scfa"
    assert serve.stop_process("actions", stack.config)

    messages, seconds = timed(stack, who, "is IBS linked to anxiety?")
    record_property("apology_when_action_server_down_s", round(seconds, 3))
    print(f"\napology with the action server down after {seconds:.2f} s")
    assert_apology(messages)
    assert seconds < 3
    # A second person, a new conversation: the same, never silence.
    assert_apology(stack.send(f"new-{uuid.uuid4().hex[:6]}", "hello"))

    restart_actions(stack)
    back = stack.send(who, QUESTION)
    assert Assistant.topic(back) == "scfa" and "Sorry" not in Assistant.text(back)


class _Hanging(http.server.BaseHTTPRequestHandler):
    """An action server that accepts the call and never answers in time."""

    release = threading.Event()
    calls = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).calls += 1
        self.release.wait(timeout=60)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"events": [], "responses": []}).encode())

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hanging_action_server(stack: Assistant) -> Iterator[type]:
    """The real action server replaced by one that hangs, on the same port."""
    serve.stop_process("actions", stack.config)
    _Hanging.release.clear()
    _Hanging.calls = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", stack.config.action_port), _Hanging)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Hanging
    finally:
        _Hanging.release.set()
        server.shutdown()
        server.server_close()
        restart_actions(stack)


def test_a_hanging_action_server_gets_an_apology_within_the_limit(
    stack: Assistant, hanging_action_server: type, record_property: Any
) -> None:
    limit = rest.DEFAULT_ACTION_TIMEOUT
    who = f"slow-{uuid.uuid4().hex[:6]}"
    messages, seconds = timed(stack, who, QUESTION)
    record_property("apology_when_action_server_hangs_s", round(seconds, 3))
    print(f"\napology with a hanging action server after {seconds:.2f} s (limit {limit} s)")
    assert_apology(messages)
    assert hanging_action_server.calls >= 1, "Rasa did call the action server"
    assert limit - 0.5 <= seconds < limit + 3, "Rasa gave up after the configured wait"

    # In the middle of a booking (the form's validation runs on the action server too).
    messages, seconds = timed(stack, f"slow-form-{uuid.uuid4().hex[:6]}", "/book_appointment")
    print(f"apology mid-booking with a hanging action server after {seconds:.2f} s")
    assert_apology(messages)
    assert seconds < 12  # the REST channel's turn limit (credentials.yml: turn_timeout 10)


def test_service_resumes_after_the_hanging_server_is_replaced(stack: Assistant) -> None:
    # The fixture of the previous test restarted the real action server.
    messages = stack.send(f"after-{uuid.uuid4().hex[:6]}", QUESTION)
    assert Assistant.topic(messages) == "scfa"


# --- kill -9 -------------------------------------------------------------------------


def kill_rasa(assistant: Assistant) -> None:
    """SIGKILL the Rasa server (no shutdown handlers run) and wait until it is gone."""
    pid = int((assistant.config.run_dir / "rasa.pid").read_text())
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while serve._alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not serve._alive(pid)


def restart_rasa(assistant: Assistant) -> None:
    serve.start_rasa(assistant.config, serve.server_env(assistant.config))


def walk_to_times(assistant: Assistant, who: str, name: str, email: str) -> None:
    assert booking_step(assistant.send(who, "/book_appointment")) == "booking_name"
    assert booking_step(assistant.send(who, name)) == "booking_contact"
    assert booking_step(assistant.send(who, email)) == "booking_times"


def finish_after_crash(assistant: Assistant, who: str, name: str, email: str) -> str:
    """The rest of the booking after a restart; returns the reference."""
    assert booking_step(assistant.send(who, "tuesday mornings")) == "booking_reason"
    assert booking_step(assistant.send(who, "/deny")) == "booking_consent"
    read_back = assistant.send(who, "yes")
    assert booking_step(read_back) == "confirm"
    assert name in Assistant.text(read_back) and email in Assistant.text(read_back), \
        "the details given before the crash are still there"
    done = assistant.send(who, "yes")
    assert booking_step(done) == "submitted"
    return next(str(m["custom"]["reference"]) for m in done if m.get("custom", {}).get("reference"))


def test_kill_9_mid_booking_then_restart_resumes_the_conversation(stack: Assistant) -> None:
    who = f"crash-{uuid.uuid4().hex[:6]}"
    name, email = f"Casey Crash {letters()}", f"casey.{uuid.uuid4().hex[:6]}@example.com"
    assert Assistant.topic(stack.send(who, "is IBS linked to anxiety?")) == "ibs"
    walk_to_times(stack, who, name, email)

    kill_rasa(stack)
    restart_rasa(stack)

    tracker_db = stack.config.extra_env["TRACKER_DB_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(tracker_db) as connection:
        texts = [json.loads(data).get("text") for (data,) in connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
            (who,))]
    assert texts == ["is IBS linked to anxiety?", "/book_appointment", name, email]

    reference = finish_after_crash(stack, who, name, email)
    from bot.booking.store import list_bookings

    [row] = [b for b in list_bookings(stack.config.extra_env["DATABASE_URL"]) if b.name == name]
    assert row.reference == reference and row.contact == email
