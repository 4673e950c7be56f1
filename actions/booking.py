"""Booking: the form's validation, its read-back, and storing or cancelling the request.

Thin rasa-sdk classes over ``bot.booking`` (checks, SQL) and ``bot.messages`` (texts).
Every booking reply carries ``custom: {"topic": "booking", "step": ...}``; log lines
carry the reference only, never what the person typed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    CANCEL_INTENT,
    SafetyFirstFormValidation,
    SlotValues,
    Validator,
    latest_confidence,
    latest_intent,
    latest_text,
    send,
    taken_as_name,
    validates,
)
from bot.booking import (
    CONFIRMED,
    CONSENT,
    CONTACT,
    CONTACT_KIND,
    FIX_PENDING,
    FORM,
    NAME,
    PERSONAL_SLOTS,
    REASON,
    REFERENCE,
    STEP_CANCELLED,
    STEP_ERROR,
    STEP_SUBMITTED,
    TIMES,
    TIMES_NORMALISED,
    TOPIC,
)
from bot.booking import validation as check
from bot.booking.store import BookingRequest, save_booking
from bot.knowledge.answers import BOOKING_PAYLOAD
from bot.messages import message
from bot.settings import get_settings

logger = logging.getLogger(__name__)

HELP_PAYLOAD = "/help"
_CHANGE_WORDS = re.compile(r"\b(?:change|but|wrong|fix|update|correct that)\b", re.IGNORECASE)


def booking_custom(step: str, **extra: Any) -> Dict[str, Any]:
    """The reply contract's ``custom`` object for a booking turn."""
    return {"topic": TOPIC, "step": step, **extra}


def clear_personal_slots() -> List[EventType]:
    return [SlotSet(slot, None) for slot in PERSONAL_SLOTS]


def _is_contact_correction(tracker: Tracker) -> bool:
    """The latest message corrects the contact while another detail is being asked."""
    return (
        tracker.get_slot("requested_slot") != CONTACT
        and check.contact_correction(latest_text(tracker)) is not None
    )


def validates_booking(
    slot: str, on_correction: Optional[SlotValues] = None
) -> Callable[[Validator], Validator]:
    """The booking validators' preamble: a cleared slot stays cleared (``validates``), and
    "actually my email is ..." typed at this step is not its answer: the contact is taken
    (``extract_booking_contact``) and this slot asked again (``on_correction``, default
    ``{slot: None}``)."""
    reset = dict(on_correction or {slot: None})
    return validates(slot, lambda tracker: dict(reset) if _is_contact_correction(tracker) else None)


def _refuse(dispatcher: CollectingDispatcher, slot: str, error: Optional[str]) -> Dict[Text, Any]:
    """Tell the person why the answer was not taken; the form then asks again."""
    key = error or "contact_missing"
    send(dispatcher, message(f"booking.invalid.{key}"), booking_custom(slot, error=key))
    return {slot: None}


class ValidateBookingForm(SafetyFirstFormValidation):
    """Check each answer, accept "actually my email is ..." at any step, handle the read-back."""

    def name(self) -> Text:
        return "validate_booking_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # A "no" to consent ends the form there; the submit action then stores nothing.
        if tracker.get_slot(CONSENT) is False and CONSENT in domain_slots:
            return domain_slots[: domain_slots.index(CONSENT) + 1]
        return domain_slots

    async def extract_booking_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A name the classifier took for a topic question is still a name.

        The domain keeps knowledge questions out of the name slot, so "Sam Okafor"
        classified as ``sources`` would be answered instead of taken. A short capitalised
        phrase that the classifier was not sure about is taken as the name; crisis,
        cancel and personal-advice messages never are.
        """
        if tracker.get_slot("requested_slot") != NAME or NAME in tracker.slots_to_validate():
            return {}
        text = latest_text(tracker)
        if _name_taken_for_cancel(tracker):
            return {NAME: text}
        return {NAME: text} if taken_as_name(tracker) else {}

    async def extract_booking_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A correction of the contact typed while another detail is being asked."""
        if tracker.get_slot("requested_slot") in (None, CONTACT):
            return {}
        correction = check.contact_correction(latest_text(tracker))
        if correction is None:
            return {}
        outcome = check.check_contact(correction)
        if not outcome.ok:
            _refuse(dispatcher, CONTACT, outcome.error)
            return {}
        return {CONTACT: outcome.value}

    @validates_booking(NAME)
    def validate_booking_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        outcome = check.check_name(value)
        if outcome.error == "name_looks_like_contact":
            both = check.split_name_and_contact(value)
            if both is not None:  # "John Smith, 780-555-0190": keep both
                name, contact = both
                return {NAME: name.value, CONTACT: contact.value, CONTACT_KIND: contact.kind}
        if not outcome.ok:
            return _refuse(dispatcher, NAME, outcome.error)
        return {NAME: outcome.value}

    @validates(CONTACT)
    def validate_booking_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        outcome = check.check_contact(value)
        if not outcome.ok:
            return {**_refuse(dispatcher, CONTACT, outcome.error), CONTACT_KIND: None}
        if tracker.get_slot("requested_slot") != CONTACT:
            shown = check.display_contact(outcome.value, outcome.kind)
            dispatcher.utter_message(text=message("booking.contact_noted", contact=shown))
        return {CONTACT: outcome.value, CONTACT_KIND: outcome.kind}

    @validates_booking(TIMES)
    def validate_booking_times(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        outcome = check.check_times(value)
        if not outcome.ok:
            return {**_refuse(dispatcher, TIMES, outcome.error), TIMES_NORMALISED: None}
        return {TIMES: outcome.value, TIMES_NORMALISED: outcome.normalised}

    @validates_booking(REASON)
    def validate_booking_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        outcome = check.check_reason(value, latest_intent(tracker))
        if not outcome.ok:
            return _refuse(dispatcher, REASON, outcome.error)
        return {REASON: outcome.value}

    @validates_booking(CONSENT)
    def validate_booking_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        answer = check.yes_or_no(value, latest_intent(tracker), latest_confidence(tracker))
        if answer is None:
            send(dispatcher, message("booking.yes_or_no"), booking_custom(CONSENT))
        return {CONSENT: answer}

    # After a contact correction the new contact is in: read the details back again.
    @validates_booking(CONFIRMED, on_correction={CONFIRMED: None, FIX_PENDING: False})
    def validate_booking_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Yes stores; no asks which detail to change; a named detail is asked again."""
        ask_again: Dict[Text, Any] = {CONFIRMED: None, FIX_PENDING: False}
        text = check.clean(value)
        answer = check.yes_or_no(text, latest_intent(tracker), latest_confidence(tracker))
        field = check.chosen_field(text)
        wants_change = answer is not True or bool(_CHANGE_WORDS.search(text))
        if field and wants_change:
            cleared: Dict[Text, Any] = {**ask_again, field: None}
            if field == CONTACT:
                cleared[CONTACT_KIND] = None
            if field == TIMES:
                cleared[TIMES_NORMALISED] = None
            return cleared
        if tracker.get_slot(FIX_PENDING):
            if answer is None:
                dispatcher.utter_message(text=message("booking.fix_help"))
                return {CONFIRMED: None, FIX_PENDING: True}
            return ask_again  # "yes"/"no" to "which detail?": show the details again
        if answer is True:
            return {CONFIRMED: True, FIX_PENDING: False}
        if answer is False:
            return {CONFIRMED: None, FIX_PENDING: True}
        dispatcher.utter_message(text=message("booking.confirm_help"))
        return ask_again


class ActionAskBookingReason(Action):
    """Ask for the reason, naming the emergency number from the settings."""

    def name(self) -> Text:
        return "action_ask_booking_reason"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            response="utter_ask_booking_reason", **get_settings().template_values()
        )
        return []


class ActionAskBookingConsent(Action):
    """Ask for consent, naming the clinic and its privacy notice (from the settings)."""

    def name(self) -> Text:
        return "action_ask_booking_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            response="utter_ask_booking_consent", **get_settings().template_values()
        )
        return []


class ActionAskBookingConfirmed(Action):
    """Read the details back and ask to send them, or ask which detail to change."""

    def name(self) -> Text:
        return "action_ask_booking_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if tracker.get_slot(FIX_PENDING):
            dispatcher.utter_message(response="utter_booking_fix")
            return []
        dispatcher.utter_message(
            response="utter_ask_booking_confirmed",
            name=str(tracker.get_slot(NAME) or ""),
            contact=check.display_contact(
                tracker.get_slot(CONTACT), tracker.get_slot(CONTACT_KIND)
            ),
            times=str(tracker.get_slot(TIMES) or ""),
            reason=str(tracker.get_slot(REASON) or "") or message("booking.reason_none"),
            **get_settings().template_values(),
        )
        return []


class ActionBookingIntro(Action):
    """Say what booking involves, and start from empty details."""

    def name(self) -> Text:
        return "action_booking_intro"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=message("booking.intro"))
        # Start from empty details (a crisis reply, for one, ends the form without clearing).
        return [SlotSet(slot, None) for slot in PERSONAL_SLOTS
                if tracker.get_slot(slot) is not None]


def request_from_slots(tracker: Tracker) -> Optional[BookingRequest]:
    """The confirmed details, checked once more; None if anything is missing."""
    name = check.check_name(tracker.get_slot(NAME))
    contact = check.check_contact(tracker.get_slot(CONTACT))
    times = check.check_times(tracker.get_slot(TIMES))
    reason = check.check_reason(tracker.get_slot(REASON) or "")
    if not (name.ok and contact.ok and times.ok and reason.ok):
        return None
    return BookingRequest(
        name=str(name.value),
        contact=str(contact.value),
        contact_kind=str(contact.kind),
        times_text=str(times.value),
        times_normalised=times.normalised,
        reason=reason.value or None,
    )


class ActionSubmitBooking(Action):
    """Store the confirmed request (committed first), then give the reference."""

    def name(self) -> Text:
        return "action_submit_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events = clear_personal_slots()
        if tracker.get_slot(CONSENT) is False:
            send(dispatcher, message("booking.declined"),
                 booking_custom(STEP_CANCELLED, consent=False),
                 [{"title": message("buttons.more_topics"), "payload": HELP_PAYLOAD}])
            return events
        request = request_from_slots(tracker)
        if tracker.get_slot(CONFIRMED) is not True or request is None:
            send(dispatcher, message("booking.cancelled"), booking_custom(STEP_CANCELLED))
            return events
        try:
            result = await asyncio.to_thread(save_booking, request, tracker.sender_id)
        except Exception as error:  # noqa: BLE001 - any failure gets the apology and phone
            logger.error("booking not stored (%s); the person was given the phone number",
                         type(error).__name__)
            send(dispatcher, message("booking.error"), booking_custom(STEP_ERROR))
            return events + [SlotSet(REFERENCE, None)]
        send(
            dispatcher,
            message(
                "booking.submitted",
                name=request.name,
                reference=result.reference,
                contact=check.display_contact(request.contact, request.contact_kind),
            ),
            booking_custom(STEP_SUBMITTED, reference=result.reference),
            [{"title": message("buttons.more_topics"), "payload": HELP_PAYLOAD}],
        )
        return events + [SlotSet(REFERENCE, result.reference)]


def _name_taken_for_cancel(tracker: Tracker) -> bool:
    """A name, asked for and given, that the classifier filed under ``cancel``."""
    text = latest_text(tracker)
    return (tracker.get_slot("requested_slot") == NAME
            and latest_intent(tracker) == CANCEL_INTENT
            and check.looks_like_name(text) and not check.asks_to_cancel(text))


class ActionCancelBooking(Action):
    """End the form, forget the details, and say how to book another way."""

    def name(self) -> Text:
        return "action_cancel_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if _name_taken_for_cancel(tracker):
            # The person answered the name question; the form takes the name and goes on.
            return [FollowupAction(FORM)]
        send(dispatcher, message("booking.cancelled"), booking_custom(STEP_CANCELLED),
             [{"title": message("buttons.more_topics"), "payload": HELP_PAYLOAD}])
        return [ActiveLoop(None), SlotSet("requested_slot", None), *clear_personal_slots()]


class ActionBookingStatus(Action):
    """A repeated "yes" after submitting: the same reference again, no second request."""

    def name(self) -> Text:
        return "action_booking_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reference = tracker.get_slot(REFERENCE)
        if reference:
            send(dispatcher, message("booking.already_submitted", reference=str(reference)),
                 booking_custom(STEP_SUBMITTED, reference=str(reference)))
        else:
            send(dispatcher, message("booking.nothing_submitted"), booking_custom("none"),
                 [{"title": message("buttons.book"), "payload": BOOKING_PAYLOAD}])
        return []

