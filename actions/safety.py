"""Crisis resources in any state of the conversation; no personal medical advice."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import send_reply
from bot.knowledge.store import all_topics
from bot.safety import crisis_reply, personal_advice_reply

GUIDANCE_TOPIC = "professional_guidance"


class ActionCrisis(Action):
    """Send crisis resources at once and end any open form (no booking pitch follows)."""

    def name(self) -> Text:
        return "action_crisis"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply = crisis_reply()
        send_reply(dispatcher, reply)
        if tracker.active_loop_name:
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        return []


class ActionPersonalAdvice(Action):
    """Explain why no individual advice is given and offer a consultation."""

    def name(self) -> Text:
        return "action_personal_advice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        try:
            guidance = all_topics().get(GUIDANCE_TOPIC)
        except Exception:  # the reply must not depend on the knowledge database
            guidance = None
        reply = personal_advice_reply(guidance)
        send_reply(dispatcher, reply, tracker)
        return []
