"""Booking over the real REST channel: the servers, the form, the database, the logs."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import pytest

from bot.booking.store import StoredBooking, list_bookings
from bot.knowledge import store as knowledge
from bot.reply import LAYOUT_KEYS
from bot.settings import get_settings
from tests.e2e.conftest import Assistant

Messages = List[Dict[str, Any]]
SCFA_QUESTION = next(t.title for t in knowledge.load_topics_file() if t.id == "scfa")


def customs(messages: Messages) -> List[Dict[str, Any]]:
    """The reply contract's ``custom`` objects (the reply's layout keys aside)."""
    return [{k: v for k, v in m["custom"].items() if k not in LAYOUT_KEYS}
            for m in messages if m.get("custom", {}).get("topic")]


def step(messages: Messages) -> str:
    """The booking step of the turn (the first booking ``custom``)."""
    booking = [c for c in customs(messages) if c["topic"] == "booking"]
    assert booking, f"no booking step in {messages}"
    return str(booking[0]["step"])


def sender() -> str:
    return f"booking-{uuid.uuid4().hex[:10]}"


def token() -> str:
    """Makes a test's email addresses unique, so its rows can be told apart."""
    return uuid.uuid4().hex[:8]


def rows(assistant: Assistant, contact: Optional[str] = None) -> List[StoredBooking]:
    found = list_bookings(assistant.config.extra_env["DATABASE_URL"])
    return [row for row in found if contact is None or row.contact == contact]


def start(assistant: Assistant, who: str, text: str = "/book_appointment") -> Messages:
    """Start a booking (by default with the "Book a consultation" button)."""
    messages = assistant.send(who, text)
    assert step(messages) == "booking_name", Assistant.text(messages)
    return messages


def walk_to_confirm(
    assistant: Assistant, who: str, name: str, contact: str, timeout: float = 30
) -> Messages:
    """Start a booking and answer every question up to the read-back."""
    start(assistant, who)
    answers = [(name, "booking_contact"), (contact, "booking_times"),
               ("tuesday or thursday mornings", "booking_reason"),
               ("/deny", "booking_consent"), ("/affirm", "confirm")]
    messages: Messages = []
    for answer, expected in answers:
        messages = assistant.send(who, answer, timeout=timeout)
        assert step(messages) == expected, (answer, Assistant.text(messages))
    return messages


def test_happy_path_stores_the_request_and_gives_the_reference(assistant: Assistant) -> None:
    who, name, email = sender(), "Maria Gonzalez", f"maria.{token()}@example.com"
    clinic = get_settings().clinic

    opening = start(assistant, who, "I'd like to book an appointment")
    assert clinic["booking_url"] in Assistant.text(opening)
    contact_question = assistant.send(who, name)
    assert step(contact_question) == "booking_contact"
    assert name in Assistant.text(contact_question)
    assert step(assistant.send(who, email)) == "booking_times"
    assert step(assistant.send(who, "Tuesday mornings or Friday at 2pm")) == "booking_reason"
    assert step(assistant.send(who, "IBS and feeling low for months")) == "booking_consent"
    read_back = assistant.send(who, "yes")
    assert step(read_back) == "confirm"
    for detail in (name, email, "Tuesday mornings or Friday at 2pm",
                   "IBS and feeling low for months"):
        assert detail in Assistant.text(read_back)
    assert rows(assistant, email) == [], "nothing is stored before the confirmation"

    done = assistant.send(who, "yes")
    custom = customs(done)[0]
    assert (custom["topic"], custom["step"]) == ("booking", "submitted")
    [row] = rows(assistant, email)
    assert custom["reference"] == row.reference
    text = Assistant.text(done)
    for needle in (row.reference, clinic["booking_url"], clinic["phone"], clinic["hours"]):
        assert needle in text
    assert (row.name, row.contact_kind, row.status) == (name, "email", "new")
    assert row.times_text == "Tuesday mornings or Friday at 2pm"
    assert row.times_normalised == "Tue, Fri; morning; 14:00"
    assert row.reason == "IBS and feeling low for months"

    # Booking details never reach the servers' logs.
    logs = "\n".join(p.read_text(errors="replace")
                     for p in assistant.config.log_dir.glob("*.log"))
    assert row.reference in logs
    for detail in (name, email, "feeling low for months"):
        assert detail not in logs


def test_a_question_mid_form_is_answered_then_the_form_resumes(assistant: Assistant) -> None:
    who, email = sender(), f"tom.{token()}@example.com"
    start(assistant, who)
    assistant.send(who, "Tom Haddad")
    messages = assistant.send(who, SCFA_QUESTION)
    [answer, resume] = customs(messages)[:2]
    assert answer["topic"] == "scfa" and answer["citations"]
    assert (resume["topic"], resume["step"]) == ("booking", "booking_contact")
    assert step(assistant.send(who, email)) == "booking_times"
    assert rows(assistant, email) == []
    for answer_text, expected in (("any time", "booking_reason"), ("/deny", "booking_consent"),
                                  ("/affirm", "confirm"), ("/affirm", "submitted")):
        assert step(assistant.send(who, answer_text)) == expected
    [row] = rows(assistant, email)
    assert (row.name, row.times_text, row.reason) == ("Tom Haddad", "any time", None)


def test_cancel_ends_the_booking_and_stores_nothing(assistant: Assistant) -> None:
    who, email = sender(), f"priya.{token()}@example.com"
    start(assistant, who)
    assistant.send(who, "Priya Sharma")
    assistant.send(who, email)
    cancelled = assistant.send(who, "never mind")
    assert step(cancelled) == "cancelled"
    assert "cancelled" in Assistant.text(cancelled)
    after = assistant.send(who, "yes")
    assert not [c for c in customs(after) if c["topic"] == "booking"]
    assert rows(assistant, email) == []


def test_actually_my_email_is_corrects_the_contact(assistant: Assistant) -> None:
    who, run = sender(), token()
    old, new = f"jo.old.{run}@example.com", f"jo.new.{run}@example.com"
    start(assistant, who)
    assistant.send(who, "Jo Lindqvist")
    assistant.send(who, old)
    assistant.send(who, "weekends")
    corrected = assistant.send(who, f"actually my email is {new}")
    assert new in Assistant.text(corrected)
    assert step(corrected) == "booking_reason"
    assert step(assistant.send(who, "/deny")) == "booking_consent"
    read_back = assistant.send(who, "/affirm")
    assert new in Assistant.text(read_back) and old not in Assistant.text(read_back)
    assert step(assistant.send(who, "/affirm")) == "submitted"
    assert len(rows(assistant, new)) == 1 and rows(assistant, old) == []


def test_an_invalid_email_is_asked_again_with_the_reason(assistant: Assistant) -> None:
    who = sender()
    start(assistant, who)
    assistant.send(who, "Bob Marchand")
    refused = assistant.send(who, "bob@example")
    assert customs(refused)[0] == {
        "topic": "booking", "step": "booking_contact", "error": "email_invalid"}
    assert "doesn't look complete" in Assistant.text(refused)
    assert step(assistant.send(who, "bob@example.com")) == "booking_times"


def test_overlong_and_hostile_values(assistant: Assistant) -> None:
    who, email = sender(), f"bobby.{token()}@example.com"
    name = "Zo\u00eb \"Bobby\" O'Neil; SELECT * FROM users"
    start(assistant, who)
    refused = assistant.send(who, "Maria-Josefina de la Sant\u00edsima Trinidad " * 4)  # 160
    assert customs(refused)[0]["error"] == "name_too_long"
    assert step(refused) == "booking_name"
    for answer, expected in ((name, "booking_contact"), (email, "booking_times"),
                             ("<b>Tuesday</b> mornings", "booking_reason"),
                             ("<script>alert('x')</script>", "booking_consent"),
                             ("/affirm", "confirm"), ("/affirm", "submitted")):
        assert step(assistant.send(who, answer)) == expected, answer
    [row] = rows(assistant, email)
    assert (row.name, row.times_text, row.reason) == (
        name, "<b>Tuesday</b> mornings", "<script>alert('x')</script>")


def test_no_to_consent_stores_nothing_and_gives_the_phone(assistant: Assistant) -> None:
    who, email = sender(), f"sam.{token()}@example.com"
    start(assistant, who)
    # "Sam Okafor" reads as a `sources` question to the classifier; it is still the name.
    for answer, expected in (("Sam Okafor", "booking_contact"), (email, "booking_times"),
                             ("mondays", "booking_reason"), ("/deny", "booking_consent")):
        assert step(assistant.send(who, answer)) == expected, answer
    declined = assistant.send(who, "no")
    assert step(declined) == "cancelled"
    assert get_settings().phone in Assistant.text(declined)
    assert rows(assistant, email) == []


def test_a_crisis_message_mid_form_gets_the_crisis_reply(assistant: Assistant) -> None:
    who, email = sender(), f"alex.{token()}@example.com"
    start(assistant, who)
    assistant.send(who, "Alex Moreau")
    assistant.send(who, email)
    messages = assistant.send(who, "I want to kill myself")
    assert customs(messages)[0]["topic"] == "crisis"
    assert "988" in Assistant.text(messages)
    assert not [c for c in customs(messages) if c["topic"] == "booking"], "no booking pitch"
    assistant.send(who, "yes")
    assert rows(assistant, email) == []


def test_double_confirm_stores_one_request(assistant: Assistant) -> None:
    who, email = sender(), f"dana.{token()}@example.com"
    walk_to_confirm(assistant, who, "Dana Whitfield", email)
    barrier = threading.Barrier(2)

    def confirm() -> Messages:
        barrier.wait()
        return assistant.send(who, "yes")

    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda _: confirm(), range(2)))
    again = assistant.send(who, "/affirm")
    assert [step(reply) for reply in replies + [again]] == ["submitted"] * 3
    references = {c["reference"] for reply in replies + [again] for c in customs(reply)}
    [row] = rows(assistant, email)
    assert references == {row.reference}


FIRST_NAMES = ("Emma", "Liam", "Olivia", "Noah", "Amelia", "Lucas", "Chloe", "Mateo", "Aisha",
               "Wei")
LAST_NAMES = ("Tremblay", "Gagnon", "Nguyen", "Singh", "MacDonald")


def test_fifty_bookings_confirmed_concurrently(assistant: Assistant) -> None:
    run = token()
    people = [(f"conc-{run}-{n}", f"{first} {last}", f"p{n}.{run}@example.com")
              for n, (first, last) in enumerate(
                  (f, last) for f in FIRST_NAMES for last in LAST_NAMES)]
    ready = threading.Barrier(len(people))

    def book(person: tuple) -> str:
        who, name, email = person
        walk_to_confirm(assistant, who, name, email, timeout=180)
        ready.wait(timeout=300)  # all 50 are at the read-back: confirm them at once
        done = assistant.send(who, "yes", timeout=180)
        assert step(done) == "submitted", Assistant.text(done)
        return str(customs(done)[0]["reference"])

    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        references = list(pool.map(book, people))
    stored = [row for row in rows(assistant) if row.contact.endswith(f".{run}@example.com")]
    assert len(people) == 50 and len(stored) == 50
    assert len(set(references)) == 50
    assert {row.reference for row in stored} == set(references)
    assert {row.contact: row.name for row in stored} == {email: name for _, name, email in people}


@pytest.mark.parametrize("text", ["", "\U0001f600\U0001f600", "<img src=x onerror=alert(1)>"])
def test_odd_input_mid_form_still_gets_a_booking_reply(assistant: Assistant, text: str) -> None:
    who = sender()
    start(assistant, who)
    reply = assistant.send(who, text)
    assert reply and step(reply) in ("booking_name", "booking_contact")
