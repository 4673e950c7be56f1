"""The call-back request: name, phone, consent; stored like a booking and notified like one.

Every reply carries ``custom: {"topic": "contact_human", "step": ..., "citations": [clinic]}``.
Log lines carry the reference only, never what the person typed.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    NEVER_AN_ANSWER,
    SafetyFirstFormValidation,
    latest_confidence,
    latest_intent,
    latest_text,
    send,
    taken_as_name,
    validates,
)
from bot.booking import validation as check
from bot.booking.store import KIND_CALLBACK, BookingRequest, save_booking
from bot.frontdesk.answers import CONTACT_HUMAN, clinic_citation, open_until, opening_hours, \
    when_text
from bot.messages import message
from bot.settings import get_settings

logger = logging.getLogger(__name__)

NAME = "callback_name"
PHONE = "callback_phone"
CONSENT = "callback_consent"
SLOTS = (NAME, PHONE, CONSENT)
FORM = "callback_form"
STEP_SUBMITTED = "submitted"
STEP_CANCELLED = "cancelled"
STEP_ERROR = "error"


def callback_custom(step: str, **extra: Any) -> Dict[str, Any]:
    settings = get_settings()
    return {"topic": CONTACT_HUMAN, "step": step,
            "citations": [clinic_citation(settings, "contact")], **extra}


def clear_slots() -> List[EventType]:
    return [SlotSet(slot, None) for slot in SLOTS]


class ValidateCallbackForm(SafetyFirstFormValidation):
    def name(self) -> Text:
        return "validate_callback_form"

    async def extract_callback_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A name the classifier took for a topic question is still a name (as in booking)."""
        if tracker.get_slot("requested_slot") != NAME or NAME in tracker.slots_to_validate():
            return {}
        return {NAME: latest_text(tracker)} if taken_as_name(tracker) else {}

    async def extract_callback_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A phone number is an answer whatever the classifier made of it."""
        if tracker.get_slot("requested_slot") != PHONE or PHONE in tracker.slots_to_validate():
            return {}
        if latest_intent(tracker) in NEVER_AN_ANSWER:
            return {}
        outcome = check.check_contact(latest_text(tracker))
        return {PHONE: latest_text(tracker)} if outcome.ok and outcome.kind == check.PHONE else {}

    @validates(NAME)
    def validate_callback_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        outcome = check.check_name(value)
        if outcome.error == "name_looks_like_contact":
            both = check.split_name_and_contact(value)
            if both is not None and both[1].kind == check.PHONE:
                return {NAME: both[0].value, PHONE: both[1].value}
        if not outcome.ok:
            key = outcome.error or "name_missing"
            send(dispatcher, message(f"booking.invalid.{key}"), callback_custom(NAME, error=key))
            return {NAME: None}
        return {NAME: outcome.value}

    @validates(PHONE)
    def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        outcome = check.check_contact(value)
        if outcome.ok and outcome.kind == check.PHONE:
            return {PHONE: outcome.value}
        error = outcome.error if outcome.error and outcome.error.startswith("phone") else None
        text = message(f"booking.invalid.{error}") if error else message("callback.phone_needed")
        send(dispatcher, text, callback_custom(PHONE, error=error or "phone_needed"))
        return {PHONE: None}

    @validates(CONSENT)
    def validate_callback_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        answer = check.yes_or_no(value, latest_intent(tracker), latest_confidence(tracker))
        if answer is None:
            send(dispatcher, message("callback.yes_or_no"), callback_custom(CONSENT))
        return {CONSENT: answer}


class _Ask(Action, ABC):
    """Asks for one of the call-back form's slots (abstract: rasa-sdk registers only the
    subclasses, which name the slot and the message)."""

    @property
    @abstractmethod
    def slot(self) -> str:
        """The slot asked for."""

    @property
    @abstractmethod
    def key(self) -> str:
        """The message (config/messages.yml) that asks."""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        buttons = []
        if self.slot == CONSENT:
            buttons = [{"title": message("callback.buttons.agree"), "payload": "/affirm"},
                       {"title": message("callback.buttons.decline"), "payload": "/deny"}]
        text = message(self.key, name=str(tracker.get_slot(NAME) or ""))
        send(dispatcher, text, callback_custom(self.slot), buttons)
        return []


class ActionAskCallbackName(_Ask):
    slot, key = NAME, "callback.ask_name"


class ActionAskCallbackPhone(_Ask):
    slot, key = PHONE, "callback.ask_phone"


class ActionAskCallbackConsent(_Ask):
    slot, key = CONSENT, "callback.ask_consent"


class ActionCallbackIntro(Action):
    def name(self) -> Text:
        return "action_callback_intro"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=message("callback.intro"))
        return [SlotSet(slot, None) for slot in SLOTS if tracker.get_slot(slot) is not None]


def _when() -> str:
    table = opening_hours(get_settings())
    if table is None:
        return message("callback.when_unknown")
    until = open_until(table, None)
    if until:
        return message("callback.when_open", until=until)
    return message("callback.when_closed", when=when_text(table, None) or "")


def request_from_slots(tracker: Tracker) -> Optional[BookingRequest]:
    name = check.check_name(tracker.get_slot(NAME))
    phone = check.check_contact(tracker.get_slot(PHONE))
    if not (name.ok and phone.ok and phone.kind == check.PHONE):
        return None
    return BookingRequest(name=str(name.value), contact=str(phone.value), contact_kind=check.PHONE,
                          times_text=message("callback.times_text"), kind=KIND_CALLBACK)


class ActionSubmitCallback(Action):
    """Store the call-back request (committed with its notifications), then the reference."""

    def name(self) -> Text:
        return "action_submit_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events = clear_slots()
        if tracker.get_slot(CONSENT) is not True:
            send(dispatcher, message("callback.declined"),
                 callback_custom(STEP_CANCELLED, consent=False))
            return events
        request = request_from_slots(tracker)
        if request is None:
            send(dispatcher, message("callback.cancelled"), callback_custom(STEP_CANCELLED))
            return events
        try:
            result = await asyncio.to_thread(save_booking, request, tracker.sender_id)
        except Exception as error:  # noqa: BLE001 - any failure gets the apology and phone
            logger.error("call-back request not stored (%s); the person was given the phone",
                         type(error).__name__)
            send(dispatcher, message("callback.error"), callback_custom(STEP_ERROR))
            return events
        send(dispatcher,
             message("callback.submitted", name=request.name, reference=result.reference,
                     phone=check.display_contact(request.contact, request.contact_kind),
                     when=_when()),
             callback_custom(STEP_SUBMITTED, reference=result.reference))
        return events


class ActionCancelCallback(Action):
    def name(self) -> Text:
        return "action_cancel_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        send(dispatcher, message("callback.cancelled"), callback_custom(STEP_CANCELLED))
        return [ActiveLoop(None), SlotSet("requested_slot", None), *clear_slots()]
