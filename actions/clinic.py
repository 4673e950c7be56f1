"""Practical questions (hours, location, fees, first visit) and "talk to a person".

Thin rasa-sdk classes over ``bot.frontdesk.answers``: every fact comes from
config/clinic.yml, every reply cites ``{"kind": "clinic", ...}``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_intent, latest_text, send_reply
from bot.frontdesk.answers import CLINIC_HOURS, CLINIC_TOPICS, CONTACT_HUMAN, clinic_reply


class ActionClinicAnswer(Action):
    """Answer a practical question from the clinic's settings."""

    def name(self) -> Text:
        return "action_clinic_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = latest_intent(tracker)
        if topic not in CLINIC_TOPICS:
            topic = CLINIC_HOURS
        reply = clinic_reply(topic, latest_text(tracker))
        send_reply(dispatcher, reply, tracker)
        return []


class ActionContactHuman(Action):
    """The phone number (open now) or the hours (closed), and the call-back offer."""

    def name(self) -> Text:
        return "action_contact_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply = clinic_reply(CONTACT_HUMAN, latest_text(tracker))
        send_reply(dispatcher, reply, tracker)
        return []
