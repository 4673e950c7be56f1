"""The booking actions: what the person is shown and which slots change, turn by turn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import (
    ActionAskBookingConfirmed,
    ActionAskBookingConsent,
    ActionBookingIntro,
    ActionBookingStatus,
    ActionCancelBooking,
    ActionSubmitBooking,
    ValidateBookingForm,
)
from bot import db
from bot.booking import PERSONAL_SLOTS, store
from bot.migrations import migrate
from bot.reply import LAYOUT_KEYS
from bot.settings import PROJECT_ROOT, get_settings

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
PHONE = "(403) 555-0142"  # config/clinic.yml

FILLED = {
    "booking_name": "Maria Gonzalez",
    "booking_contact": "maria@example.com",
    "booking_contact_kind": "email",
    "booking_times": "Tuesday mornings",
    "booking_times_normalised": "Tue; morning",
    "booking_reason": "IBS and low mood",
    "booking_consent": True,
}


@pytest.fixture()
def booking_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    migrate(url)
    yield url
    db.get_engine.cache_clear()
    get_settings.cache_clear()


def tracker(
    text: str = "",
    intent: str = "inform",
    requested: Optional[str] = None,
    slots: Optional[Dict[str, Any]] = None,
    candidates: Optional[Dict[str, Any]] = None,
    sender: str = "test-user",
    confidence: float = 0.95,
) -> Tracker:
    """A tracker as the form's validation sees it: the user turn, then slot candidates."""
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
             "entities": []}
    events: List[Dict[str, Any]] = [{"event": "user", "text": text, "parse_data": parse}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    all_slots = {"requested_slot": requested, **(slots or {}), **(candidates or {})}
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": all_slots,
            "latest_message": parse,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": "booking_form"},
            "latest_action_name": "action_listen",
        }
    )


def run(action: Any, current: Tracker) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, current, DOMAIN))
    return dispatcher.messages, events


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def customs(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The reply contract's ``custom`` objects (the reply's layout keys aside)."""
    return [{k: v for k, v in m["custom"].items() if k not in LAYOUT_KEYS}
            for m in messages if m.get("custom")]


# --- the form's validation ------------------------------------------------------------


def test_an_invalid_email_is_refused_with_the_reason() -> None:
    messages, events = run(
        ValidateBookingForm(),
        tracker("bob@example", requested="booking_contact", slots={"booking_name": "Bob"},
                candidates={"booking_contact": "bob@example"}),
    )
    assert slot_events(events)["booking_contact"] is None
    assert "doesn't look complete" in texts(messages)
    assert customs(messages) == [
        {"topic": "booking", "step": "booking_contact", "error": "email_invalid"}]


def test_a_phone_number_is_stored_normalised_with_its_kind() -> None:
    _, events = run(
        ValidateBookingForm(),
        tracker("it's 403.555.0142", requested="booking_contact",
                candidates={"booking_contact": "it's 403.555.0142"}),
    )
    assert slot_events(events) == {
        "booking_contact": "+14035550142", "booking_contact_kind": "phone"}


def test_a_question_mid_form_fills_nothing_so_the_form_steps_aside() -> None:
    # The domain's not_intent kept the question out of the slot; nothing to validate means
    # Rasa rejects the form turn and the "answer, then resume" rule runs.
    messages, events = run(
        ValidateBookingForm(),
        tracker("what is butyrate?", intent="scfa", requested="booking_times",
                slots={"booking_name": "Bob"}),
    )
    assert (messages, events) == ([], [])


@pytest.mark.parametrize(
    "text, intent, confidence, taken",
    [
        ("Sam Okafor", "sources", 0.58, True),  # a name the classifier took for a topic
        ("Zo\u00eb de Vries", "fmt", 0.7, True),
        ("Leaky Gut", "inflammation_leaky_gut", 0.95, False),  # sure: answer the question
        ("what is butyrate?", "scfa", 0.6, False),
        # a name filed under cancel is a name; words that ask to stop are not ("Olivia Nguyen"
        # was classified as cancel and her booking was cancelled)
        ("Sam Okafor", "cancel", 0.6, True),
        ("Olivia Nguyen", "cancel", 0.97, True),
        ("Cancel", "cancel", 0.6, False),
        ("No Thanks", "cancel", 0.6, False),
        ("Sam Okafor", "crisis", 0.6, False),  # crisis always wins
        ("Sam Okafor", "crisis", 0.6, False),
    ],
)
def test_a_name_mistaken_for_a_question_is_still_taken(
    text: str, intent: str, confidence: float, taken: bool
) -> None:
    messages, events = run(ValidateBookingForm(),
                           tracker(text, intent=intent, confidence=confidence,
                                   requested="booking_name"))
    assert slot_events(events) == ({"booking_name": text} if taken else {})
    assert messages == []


def test_actually_my_email_is_corrects_the_contact_at_a_later_step() -> None:
    text = "actually my email is jo@example.com"
    messages, events = run(
        ValidateBookingForm(),
        tracker(text, requested="booking_times",
                slots={"booking_name": "Jo", "booking_contact": "+14035550142",
                       "booking_contact_kind": "phone"},
                candidates={"booking_times": text}),
    )
    assert slot_events(events) == {
        "booking_times": None,  # not taken as the times: asked again
        "booking_contact": "jo@example.com",
        "booking_contact_kind": "email",
    }
    assert "I'll use jo@example.com" in texts(messages)


def test_an_invalid_correction_keeps_the_old_contact() -> None:
    text = "my email is jo@example"
    messages, events = run(
        ValidateBookingForm(),
        tracker(text, requested="booking_reason",
                slots={"booking_contact": "+14035550142", "booking_contact_kind": "phone"},
                candidates={"booking_reason": text}),
    )
    assert slot_events(events) == {"booking_reason": None}
    assert "doesn't look complete" in texts(messages)


def test_name_and_phone_typed_together_are_both_kept() -> None:
    text = "John Smith, 780-555-0190"
    _, events = run(ValidateBookingForm(),
                    tracker(text, requested="booking_name", candidates={"booking_name": text}))
    assert slot_events(events) == {"booking_name": "John Smith",
                                   "booking_contact": "+17805550190",
                                   "booking_contact_kind": "phone"}


def test_an_overlong_name_is_refused() -> None:
    text = "N" * 150
    messages, events = run(ValidateBookingForm(),
                           tracker(text, requested="booking_name",
                                   candidates={"booking_name": text}))
    assert slot_events(events)["booking_name"] is None
    assert "100 characters" in texts(messages)


def test_times_are_kept_as_said_with_a_normalised_form() -> None:
    _, events = run(ValidateBookingForm(),
                    tracker("weekdays after 5", requested="booking_times",
                            candidates={"booking_times": "weekdays after 5"}))
    assert slot_events(events) == {
        "booking_times": "weekdays after 5",
        "booking_times_normalised": "Mon, Tue, Wed, Thu, Fri; evening; after 17:00",
    }


def test_skip_leaves_the_reason_empty_but_answered() -> None:
    _, events = run(ValidateBookingForm(),
                    tracker("/deny", intent="deny", requested="booking_reason",
                            candidates={"booking_reason": "/deny"}))
    assert slot_events(events) == {"booking_reason": ""}


def test_no_to_consent_ends_the_form_without_the_read_back() -> None:
    _, events = run(ValidateBookingForm(),
                    tracker("no", intent="deny", requested="booking_consent",
                            slots={k: v for k, v in FILLED.items() if k != "booking_consent"},
                            candidates={"booking_consent": "no"}))
    assert slot_events(events) == {"booking_consent": False, "requested_slot": None}


def test_an_unclear_consent_answer_is_asked_again() -> None:
    messages, events = run(ValidateBookingForm(),
                           tracker("what for?", intent="out_of_scope",
                                   requested="booking_consent",
                                   candidates={"booking_consent": "what for?"}))
    assert slot_events(events) == {"booking_consent": None}
    assert "yes or no" in texts(messages)


def test_yes_at_the_read_back_confirms() -> None:
    _, events = run(ValidateBookingForm(),
                    tracker("yes", intent="affirm", requested="booking_confirmed", slots=FILLED,
                            candidates={"booking_confirmed": "yes"}))
    assert slot_events(events)["booking_confirmed"] is True


def test_no_at_the_read_back_asks_which_detail_then_asks_that_again() -> None:
    _, events = run(ValidateBookingForm(),
                    tracker("no", intent="deny", requested="booking_confirmed", slots=FILLED,
                            candidates={"booking_confirmed": "no"}))
    assert slot_events(events) == {"booking_confirmed": None, "booking_fix_pending": True}

    slots = {**FILLED, "booking_fix_pending": True}
    _, events = run(ValidateBookingForm(),
                    tracker("email or phone", requested="booking_confirmed", slots=slots,
                            candidates={"booking_confirmed": "email or phone"}))
    assert slot_events(events) == {"booking_confirmed": None, "booking_fix_pending": False,
                                   "booking_contact": None, "booking_contact_kind": None}


def test_naming_a_detail_at_the_read_back_asks_it_again() -> None:
    text = "no, change the times"
    _, events = run(ValidateBookingForm(),
                    tracker(text, intent="deny", requested="booking_confirmed", slots=FILLED,
                            candidates={"booking_confirmed": text}))
    changed = slot_events(events)
    assert changed["booking_times"] is None and changed["booking_confirmed"] is None


# --- questions the form asks ------------------------------------------------------------


def test_consent_question_names_the_clinic_and_privacy_notice() -> None:
    messages, _ = run(ActionAskBookingConsent(), tracker(requested="booking_consent"))
    [sent] = messages
    assert sent["response"] == "utter_ask_booking_consent"
    assert sent["clinic_name"] == "Healthflow Naturopathic"
    assert sent["clinic_privacy_url"].startswith("https://")
    consent = DOMAIN["responses"]["utter_ask_booking_consent"][0]
    assert consent["custom"] == {"topic": "booking", "step": "booking_consent"}


def test_read_back_shows_every_detail() -> None:
    slots = {**FILLED, "booking_contact": "+14035550199", "booking_contact_kind": "phone",
             "booking_reason": ""}
    messages, _ = run(ActionAskBookingConfirmed(),
                      tracker(requested="booking_confirmed", slots=slots))
    [sent] = messages
    assert sent["response"] == "utter_ask_booking_confirmed"
    assert (sent["name"], sent["contact"], sent["times"], sent["reason"]) == (
        "Maria Gonzalez", "(403) 555-0199", "Tuesday mornings", "(none given)")
    template = DOMAIN["responses"]["utter_ask_booking_confirmed"][0]
    for placeholder in ("{name}", "{contact}", "{times}", "{reason}"):
        assert placeholder in template["text"]
    assert template["custom"] == {"topic": "booking", "step": "confirm"}


def test_which_detail_buttons_send_the_numbers_the_validation_understands() -> None:
    from bot.booking.validation import chosen_field

    [response] = DOMAIN["responses"]["utter_booking_fix"]
    chosen = {b["title"]: chosen_field(b["payload"]) for b in response["buttons"]}
    assert chosen == {"Name": "booking_name", "Email or phone": "booking_contact",
                      "Preferred times": "booking_times", "Reason": "booking_reason",
                      "Cancel the request": None}
    assert response["buttons"][-1]["payload"] == "/cancel"


def test_after_no_the_read_back_becomes_which_detail() -> None:
    messages, _ = run(ActionAskBookingConfirmed(),
                      tracker(requested="booking_confirmed",
                              slots={**FILLED, "booking_fix_pending": True}))
    assert [m["response"] for m in messages] == ["utter_booking_fix"]


@pytest.mark.parametrize(
    "slot", ["booking_name", "booking_contact", "booking_times", "booking_reason"]
)
def test_every_question_carries_the_booking_topic_and_step(slot: str) -> None:
    [response] = DOMAIN["responses"][f"utter_ask_{slot}"]
    assert response["custom"] == {"topic": "booking", "step": slot}


def test_intro_starts_from_empty_details() -> None:
    messages, events = run(ActionBookingIntro(), tracker(intent="book_appointment",
                                                         slots=FILLED))
    assert "cancel" in texts(messages) and PHONE in texts(messages)
    assert slot_events(events) == {slot: None for slot in FILLED}
    assert set(FILLED) <= set(PERSONAL_SLOTS)


def test_slots_cleared_as_the_form_starts_are_not_answers() -> None:
    # The intro's SlotSet(None) events reach the validation as candidates when the form
    # activates in the same turn: nothing may be refused, and no reason is invented.
    cleared = {slot: None for slot in PERSONAL_SLOTS}
    messages, events = run(ValidateBookingForm(),
                           tracker("book me in", intent="book_appointment", candidates=cleared))
    assert messages == []
    assert all(value is None for value in slot_events(events).values())


# --- storing, cancelling --------------------------------------------------------------------


def confirmed(sender: str = "sender-a") -> Tracker:
    return tracker("yes", intent="affirm", slots={**FILLED, "booking_confirmed": True},
                   sender=sender)


def test_submit_stores_then_gives_reference_link_phone_and_hours(booking_db: str) -> None:
    messages, events = run(ActionSubmitBooking(), confirmed())
    [row] = store.list_bookings(booking_db)
    [custom] = customs(messages)
    assert custom == {"topic": "booking", "step": "submitted", "reference": row.reference}
    text = texts(messages)
    settings = get_settings()
    for needle in (row.reference, settings.clinic["booking_url"], PHONE,
                   settings.clinic["hours"]):
        assert needle in text
    changed = slot_events(events)
    assert changed["booking_reference"] == row.reference
    assert all(changed[slot] is None for slot in PERSONAL_SLOTS), "details leave the tracker"
    assert (row.name, row.contact, row.reason) == ("Maria Gonzalez", "maria@example.com",
                                                   "IBS and low mood")


def test_the_same_confirmation_twice_stores_one_row(booking_db: str) -> None:
    first, _ = run(ActionSubmitBooking(), confirmed("double"))
    second, _ = run(ActionSubmitBooking(), confirmed("double"))
    assert customs(first) == customs(second)
    assert len(store.list_bookings(booking_db)) == 1


def test_database_down_gets_an_apology_with_the_phone(
    monkeypatch: pytest.MonkeyPatch, booking_db: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/x")
    get_settings.cache_clear()
    messages, events = run(ActionSubmitBooking(), confirmed())
    assert PHONE in texts(messages) and "Sorry" in texts(messages)
    assert customs(messages) == [{"topic": "booking", "step": "error"}]
    assert slot_events(events)["booking_reference"] is None
    assert store.list_bookings(booking_db) == []


def test_no_consent_stores_nothing_and_gives_the_phone(booking_db: str) -> None:
    messages, _ = run(ActionSubmitBooking(),
                      tracker(slots={**FILLED, "booking_consent": False}))
    assert PHONE in texts(messages)
    assert customs(messages)[0]["step"] == "cancelled"
    assert store.list_bookings(booking_db) == []


def test_cancel_ends_the_form_and_forgets_the_details() -> None:
    messages, events = run(ActionCancelBooking(), tracker("never mind", intent="cancel",
                                                          slots=FILLED))
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    assert all(value is None for value in slot_events(events).values())
    assert customs(messages) == [{"topic": "booking", "step": "cancelled"}]
    assert "cancelled" in texts(messages)


@pytest.mark.parametrize("requested", ["booking_name", "booking_times"])
def test_a_name_taken_for_cancel_goes_on_with_the_form_only_when_a_name_was_asked(
        requested: str) -> None:
    messages, events = run(ActionCancelBooking(), tracker("Olivia Nguyen", intent="cancel",
                                                          requested=requested, slots=FILLED))
    if requested == "booking_name":
        assert (messages, events) == ([], [{"event": "followup", "name": "booking_form",
                                            "timestamp": None}])
    else:
        assert customs(messages) == [{"topic": "booking", "step": "cancelled"}]


def test_a_repeated_yes_repeats_the_reference() -> None:
    messages, events = run(ActionBookingStatus(),
                           tracker("yes", intent="affirm",
                                   slots={"booking_reference": "HF-7K3Q9P"}))
    assert customs(messages) == [
        {"topic": "booking", "step": "submitted", "reference": "HF-7K3Q9P"}]
    assert "HF-7K3Q9P" in texts(messages)
    assert events == []
