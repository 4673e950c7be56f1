"""Helpers shared by the actions: reading the tracker and sending contract replies."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.intents import FALLBACK_INTENT
from bot.reply import CITATIONS, RESOURCES, TOPIC, Reply, to_message
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
