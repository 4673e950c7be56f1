"""Masking booking details in a stored conversation (bot.privacy.masking), on plain events."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from bot.privacy import MASK
from bot.privacy.masking import holds_personal_details, mask_events, personal_values

NAME = "Maria Testperson"
EMAIL = "maria.testperson@example.com"
PHONE_TYPED = "780-555-0134"
PHONE_STORED = "+17805550134"
PHONE_SHOWN = "(780) 555-0134"
REASON = "IBS and feeling low for months"


def user(text: str) -> Dict[str, Any]:
    return {"event": "user", "timestamp": 1.0, "text": text,
            "parse_data": {"text": text, "intent": {"name": "inform"}, "entities": []},
            "metadata": {}}


def bot(text: str, **metadata: Any) -> Dict[str, Any]:
    return {"event": "bot", "timestamp": 1.0, "text": text,
            "data": {"custom": {"topic": "booking"}}, "metadata": metadata}


def slot(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "timestamp": 1.0, "name": name, "value": value}


def loop(name: Any) -> Dict[str, Any]:
    return {"event": "active_loop", "timestamp": 1.0, "name": name}


def action(name: str) -> Dict[str, Any]:
    return {"event": "action", "timestamp": 1.0, "name": name}


def booking_conversation(contact: str = EMAIL, stored_contact: str = EMAIL,
                         kind: str = "email") -> List[Dict[str, Any]]:
    shown = PHONE_SHOWN if kind == "phone" else stored_contact
    return [
        user("what is butyrate? my friend anna@example.org asked"),
        action("action_answer"), bot("Butyrate is a short-chain fatty acid."),
        user("/book_appointment"), action("action_booking_intro"),
        action("booking_form"), loop("booking_form"), slot("requested_slot", "booking_name"),
        bot("What name should the clinic use for you?"),
        user(NAME), slot("booking_name", NAME), action("booking_form"),
        slot("booking_name", NAME), slot("requested_slot", "booking_contact"),
        bot(f"Thanks, {NAME}. How can the clinic reach you?"),
        user(contact), slot("booking_contact", contact), action("booking_form"),
        slot("booking_contact", stored_contact), slot("booking_contact_kind", kind),
        slot("requested_slot", "booking_times"), bot("Which days or times usually suit you?"),
        user("tuesday mornings"), slot("booking_times", "tuesday mornings"),
        action("booking_form"), slot("booking_times_normalised", "Tue; morning"),
        slot("requested_slot", "booking_reason"), bot("In a few words, what would you like help with?"),
        user(REASON), slot("booking_reason", REASON), action("booking_form"),
        slot("requested_slot", "booking_consent"), bot("Do you agree?"),
        user("yes"), slot("booking_consent", True), action("booking_form"),
        slot("requested_slot", "booking_confirmed"),
        bot(f"Name: {NAME}\nContact: {shown}\nPreferred times: tuesday mornings\n"
            f"Reason: {REASON}", name=NAME, contact=shown, reason=REASON),
        user("yes"), slot("booking_confirmed", True), action("booking_form"),
        loop(None), slot("requested_slot", None), action("action_submit_booking"),
        bot(f"Thank you, {NAME}. Your reference is HF-ABC234. We'll contact you at {shown}."),
        bot("", ),
        slot("booking_name", None), slot("booking_contact", None),
        slot("booking_reference", "HF-ABC234"),
    ]


def test_every_detail_is_masked_and_the_rest_is_kept() -> None:
    events = booking_conversation()
    masked = mask_events(events)
    dumped = json.dumps(masked)
    for detail in (NAME, EMAIL, REASON, "tuesday mornings", "Tue; morning",
                   "anna@example.org", "Maria"):
        assert detail.lower() not in dumped.lower(), detail
    assert len(masked) == len(events)
    # What was not personal is untouched: the answer, the reference, the steps, consent.
    assert "Butyrate is a short-chain fatty acid." in dumped
    assert "HF-ABC234" in dumped
    assert [e["event"] for e in masked] == [e["event"] for e in events]
    assert {"event": "slot", "timestamp": 1.0, "name": "booking_consent", "value": True} in masked
    assert masked[-1]["value"] == "HF-ABC234"


def test_the_answers_to_personal_questions_are_replaced_whole() -> None:
    masked = mask_events(booking_conversation())
    texts = [e["text"] for e in masked if e["event"] == "user"]
    assert texts == ["what is butyrate? my friend [removed] asked", "/book_appointment",
                     MASK, MASK, MASK, MASK, "yes", "yes"]
    parse_texts = [e["parse_data"]["text"] for e in masked if e["event"] == "user"]
    assert parse_texts == texts
    read_back = next(e for e in masked if e["event"] == "bot" and "Name:" in e["text"])
    assert read_back["metadata"] == {"name": MASK, "contact": MASK, "reason": MASK}
    assert "Thanks, [removed]." in json.dumps(masked)


def test_a_phone_number_is_masked_as_typed_stored_and_shown() -> None:
    events = booking_conversation(PHONE_TYPED, PHONE_STORED, "phone")
    assert {PHONE_TYPED, PHONE_STORED, PHONE_SHOWN} <= personal_values(events)
    dumped = json.dumps(mask_events(events))
    for form in (PHONE_TYPED, PHONE_STORED, PHONE_SHOWN, "555-0134", "5550134"):
        assert form not in dumped, form


def test_a_correction_typed_at_another_step_is_masked() -> None:
    events = booking_conversation()
    events.insert(events.index(user("yes")), user(f"actually my email is {EMAIL}"))
    dumped = json.dumps(mask_events(events))
    assert EMAIL not in dumped and "actually my email is [removed]" in dumped


def test_personal_details_are_detected_until_masked() -> None:
    events = booking_conversation()
    assert holds_personal_details(events)
    assert not holds_personal_details(mask_events(events))
    assert not holds_personal_details([slot("booking_reference", "HF-ABC234"),
                                       slot("booking_consent", True), slot("booking_reason", "")])


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_events(booking_conversation())
    assert mask_events(once) == once


def test_a_short_name_is_masked_as_a_word_only() -> None:
    events = [loop("booking_form"), slot("requested_slot", "booking_name"), user("Al"),
              slot("booking_name", "Al"), bot("Thanks, Al. Alberta Health Link is 811."),
              loop(None)]
    masked = mask_events(events)
    assert masked[4]["text"] == "Thanks, [removed]. Alberta Health Link is 811."
