"""Helpers shared by the actions: reading the tracker and sending contract replies."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Mapping, Optional, Text, Tuple

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.booking import validation as check
from bot.intents import CRISIS, FALLBACK_INTENT, PERSONAL_ADVICE
from bot.reply import CITATIONS, RESOURCES, TOPIC, Reply, to_message
from bot.safety import safety_line

CANCEL_INTENT = "cancel"
# Messages a form never takes as an answer, however they look.
NEVER_AN_ANSWER = (CRISIS, CANCEL_INTENT, PERSONAL_ADVICE)

SlotValues = Dict[Text, Any]
Validator = Callable[[Any, Any, CollectingDispatcher, Tracker, DomainDict], SlotValues]


def latest_intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def latest_confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


def ranked_intents(tracker: Tracker) -> List[Tuple[str, float]]:
    """The classifier's ranking without the fallback pseudo-intent, best first."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    return [
        (str(item.get("name")), float(item.get("confidence") or 0.0))
        for item in ranking
        if item.get("name") and item.get("name") != FALLBACK_INTENT
    ]


def weak_risk_unanswered(tracker: Tracker) -> bool:
    """The latest message showed uncertain signs of risk and nothing has replied to it yet."""
    guard = tracker.latest_message.get("crisis_guard") or {}
    if not (isinstance(guard, dict) and guard.get("weak")):
        return False
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return True
        if event.get("event") == "bot":
            return False
    return True


def send_safety_line_once(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """One safety line (988, 911) before the first reply to a message with weak signs of risk."""
    if not weak_risk_unanswered(tracker):
        return
    line = safety_line()
    if not any(sent.get("text") == line for sent in dispatcher.messages):
        dispatcher.utter_message(text=line)


def send_reply(
    dispatcher: CollectingDispatcher, reply: Reply, tracker: Optional[Tracker] = None
) -> None:
    """Send ``reply`` as one bot message (its text and its ``custom`` object together).

    With ``tracker``, a message with weak signs of risk gets the safety line first.
    """
    if tracker is not None:
        send_safety_line_once(dispatcher, tracker)
    dispatcher.utter_message(**to_message(reply))


def reply_of(
    text: str, custom: Mapping[str, Any], buttons: Optional[List[Dict[str, str]]] = None
) -> Reply:
    """A one-paragraph reply: ``custom`` holds the contract's keys (``topic``, ``step``...)."""
    details = {k: v for k, v in custom.items() if k not in (TOPIC, CITATIONS, RESOURCES)}
    return Reply.of(
        str(custom[TOPIC]), text, buttons=buttons,
        citations=custom.get(CITATIONS) or (), resources=custom.get(RESOURCES) or (), **details,
    )


def send(
    dispatcher: CollectingDispatcher,
    text: str,
    custom: Mapping[str, Any],
    buttons: Optional[List[Dict[str, str]]] = None,
    tracker: Optional[Tracker] = None,
) -> None:
    """Send a one-paragraph reply (:func:`reply_of`) as one bot message."""
    send_reply(dispatcher, reply_of(text, custom, buttons), tracker)


def validates(
    slot: str, instead: Optional[Callable[[Tracker], Optional[SlotValues]]] = None
) -> Callable[[Validator], Validator]:
    """The preamble every form's ``validate_<slot>`` method shares, as a decorator.

    A value of ``None`` is the slot being cleared (at the form's start, or by the form
    itself), not an answer: it stays cleared, unchecked. Then ``instead(tracker)``, when
    given, may return the slot values to set in place of checking the answer.
    """

    def decorate(method: Validator) -> Validator:
        @functools.wraps(method)
        def validate(
            self: Any, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: DomainDict,
        ) -> SlotValues:
            if value is None:
                return {slot: None}  # cleared, not answered (e.g. at the form's start)
            if instead is not None:
                values = instead(tracker)
                if values is not None:
                    return values
            return method(self, value, dispatcher, tracker, domain)

        return validate

    return decorate


def taken_as_name(tracker: Tracker) -> bool:
    """The latest message is a name, whatever topic the classifier was not sure it was.

    A short capitalised phrase ("Sam Okafor", classified as ``sources`` at 0.58) is a name
    unless the classifier was very sure; crisis, cancel and personal-advice messages never are.
    """
    return (latest_intent(tracker) not in NEVER_AN_ANSWER
            and check.looks_like_name(latest_text(tracker))
            and latest_confidence(tracker) < check.NAME_OVERRIDE_MAX_CONFIDENCE)


class SafetyFirstFormValidation(FormValidationAction, ABC):
    """A form's validation, after one safety line if the answer showed weak signs of risk.

    Abstract (``name``), so rasa-sdk registers only the forms built on it.
    """

    @abstractmethod
    def name(self) -> Text:
        """``validate_<form>``."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        """Validate as usual, after one safety line if the answer showed weak signs of risk."""
        send_safety_line_once(dispatcher, tracker)
        return await super().run(dispatcher, tracker, domain)
