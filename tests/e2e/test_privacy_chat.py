"""Privacy over the real REST channel: masking once stored, clean logs, "delete my data".

Uses the shared stack (SQLite stores in a temporary folder): the tracker database, the
clinic database and the servers' logs are all read after real conversations.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

from bot.booking.store import list_bookings
from bot.privacy import audit
from bot.reply import LAYOUT_KEYS
from tests.e2e.conftest import Assistant

Messages = List[Dict[str, Any]]
LETTERS = str.maketrans("0123456789", "ghijklmnop")


def customs(messages: Messages) -> List[Dict[str, Any]]:
    """The reply contract's ``custom`` objects (the reply's layout keys aside)."""
    return [{k: v for k, v in m["custom"].items() if k not in LAYOUT_KEYS}
            for m in messages if m.get("custom", {}).get("topic")]


def step(messages: Messages, topic: str = "booking") -> str:
    return next(str(c["step"]) for c in customs(messages) if c["topic"] == topic)


def tracker_rows(assistant: Assistant, sender: str) -> List[str]:
    path = assistant.config.extra_env["TRACKER_DB_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return [data for (data,) in connection.execute(
            "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,))]


def person() -> Tuple[str, str, str, str]:
    tag = uuid.uuid4().hex[:6].translate(LETTERS)  # names hold no digits
    return (f"pv-{tag}", f"Priya Private{tag}", f"priya.{tag}@example.com",
            "sleeping badly and low mood for months")


def book(assistant: Assistant, who: str, name: str, contact: str, reason: str) -> str:
    assert step(assistant.send(who, "/book_appointment")) == "booking_name"
    assert step(assistant.send(who, name)) == "booking_contact"
    assert step(assistant.send(who, contact)) == "booking_times"
    assert step(assistant.send(who, "weekdays after 5")) == "booking_reason"
    assert step(assistant.send(who, reason)) == "booking_consent"
    assert step(assistant.send(who, "yes")) == "confirm"
    # The form still runs: the details are in the conversation, so a crash can resume it.
    assert name in "".join(tracker_rows(assistant, who))
    done = assistant.send(who, "yes")
    assert step(done) == "submitted"
    return next(str(c["reference"]) for c in customs(done) if c.get("reference"))


def logs(assistant: Assistant) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in Path(assistant.config.log_dir).glob("*.log"))


def test_booking_details_live_in_the_bookings_table_only(assistant: Assistant) -> None:
    who, name, email, reason = person()
    reference = book(assistant, who, name, email, reason)

    [row] = [b for b in list_bookings(assistant.config.extra_env["DATABASE_URL"])
             if b.reference == reference]
    assert (row.name, row.contact, row.reason) == (name, email, reason)

    stored = "\n".join(tracker_rows(assistant, who))
    for detail in (name, email, reason, name.split()[1], email.split("@")[0]):
        assert detail not in stored, detail
    assert "[removed]" in stored and reference in stored
    # The conversation goes on normally after the masking.
    assert Assistant.topic(assistant.send(who, "thanks")) == "thanks"


def test_logs_carry_no_personal_details(assistant: Assistant) -> None:
    who, name, email, reason = person()
    phone = "403-555-0" + str(uuid.uuid4().int % 900 + 100)
    book(assistant, who, name, phone, reason)
    # The REST channel's error paths, with details in the refused bodies.
    url = assistant.config.rest_url
    import urllib.error
    import urllib.request

    for body in (json.dumps({"sender": ["x"], "message": f"{name} {email}"}).encode(),
                 f"{{not json {name} {email}".encode()):
        request = urllib.request.Request(url, data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 (loopback)
        except urllib.error.HTTPError as error:
            assert error.code == 400
    text = logs(assistant)
    for detail in (name, email, reason, phone, phone.replace("-", "")):
        assert detail not in text, detail
    assert " DEBUG " not in text, "the servers log at INFO: Rasa logs user text at DEBUG"


def test_delete_my_data_in_the_chat_erases_conversation_and_bookings(
    assistant: Assistant
) -> None:
    who, name, email, reason = person()
    reference = book(assistant, who, name, email, reason)
    clinic = assistant.config.extra_env["DATABASE_URL"]

    question = assistant.send(who, "please delete my data")
    assert step(question, "delete_my_data") == "confirm"
    assert [b["payload"] for m in question for b in m.get("buttons", [])] == ["/affirm", "/deny"]
    assert any(b.reference == reference for b in list_bookings(clinic)), "nothing yet"

    done = assistant.send(who, "yes")
    [erased] = [c for c in customs(done) if c["topic"] == "delete_my_data"]
    assert erased == {"topic": "delete_my_data", "step": "erased", "bookings_erased": 1}
    assert "erased this conversation" in Assistant.text(done)

    assert tracker_rows(assistant, who) == []
    assert all(b.reference != reference for b in list_bookings(clinic))
    [entry] = audit.entries(clinic, subject=who)
    assert (entry.action, entry.via, entry.bookings, entry.conversations) == ("erase", "chat", 1, 1)
    trail = json.dumps([vars(e) for e in audit.entries(clinic)], default=str)
    assert who not in trail and name not in trail and email not in trail

    # The next message starts a new conversation.
    assert Assistant.topic(assistant.send(who, "hello")) == "greet"
    assert len([r for r in tracker_rows(assistant, who) if '"event": "user"' in r]) == 1


def test_asked_mid_booking_and_then_no_keeps_what_was_sent(assistant: Assistant) -> None:
    who, name, email, _reason = person()
    assert step(assistant.send(who, "/book_appointment")) == "booking_name"
    assert step(assistant.send(who, name)) == "booking_contact"
    question = assistant.send(who, "delete my data")
    assert step(question, "delete_my_data") == "confirm", "not taken as the contact"
    kept = assistant.send(who, "no")
    assert step(kept, "delete_my_data") == "kept"
    rows = tracker_rows(assistant, who)
    assert rows and name not in "".join(rows), "the abandoned form's details are masked"
    assert Assistant.topic(assistant.send(who, "what is butyrate?")) == "scfa"
