"""Helpers shared by the actions: reading the tracker and sending contract replies."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.intents import FALLBACK_INTENT
from bot.safety import safety_line


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


def send(
    dispatcher: CollectingDispatcher,
    text: str,
    custom: Dict[str, Any],
    buttons: Optional[List[Dict[str, str]]] = None,
    tracker: Optional[Tracker] = None,
) -> None:
    """Send the text (with buttons), then the contract's ``custom`` object.

    With ``tracker``, a message with weak signs of risk gets the safety line first.
    """
    if tracker is not None:
        send_safety_line_once(dispatcher, tracker)
    dispatcher.utter_message(text=text, buttons=buttons or [])
    dispatcher.utter_message(json_message=custom)
