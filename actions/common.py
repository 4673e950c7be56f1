"""Helpers shared by the actions: reading the tracker and sending contract replies."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.intents import FALLBACK_INTENT


def latest_intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def ranked_intents(tracker: Tracker) -> List[Tuple[str, float]]:
    """The classifier's ranking without the fallback pseudo-intent, best first."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    return [
        (str(item.get("name")), float(item.get("confidence") or 0.0))
        for item in ranking
        if item.get("name") and item.get("name") != FALLBACK_INTENT
    ]


def send(
    dispatcher: CollectingDispatcher,
    text: str,
    custom: Dict[str, Any],
    buttons: Optional[List[Dict[str, str]]] = None,
) -> None:
    """Send the text (with buttons), then the contract's ``custom`` object."""
    dispatcher.utter_message(text=text, buttons=buttons or [])
    dispatcher.utter_message(json_message=custom)
