"""Small talk: greet, goodbye, thanks, help, bot challenge (texts live in domain.yml)."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_intent, send_safety_line_once
from bot.intents import SMALL_TALK
from bot.settings import get_settings


class ActionSmallTalk(Action):
    """Send ``utter_<intent>`` with the clinic's details filled in."""

    def name(self) -> Text:
        return "action_small_talk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = latest_intent(tracker)
        if intent not in SMALL_TALK:
            intent = "help"
        send_safety_line_once(dispatcher, tracker)
        dispatcher.utter_message(response=f"utter_{intent}", **get_settings().template_values())
        return []
