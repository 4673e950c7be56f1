""""Delete my data": ask to confirm, then erase the conversation and linked booking requests.

Thin rasa-sdk classes over ``bot.privacy.erase``. The erasure itself is the same one staff
run with ``python -m bot privacy erase``; the ``privacy_erased`` slot then tells the
tracker store to keep nothing of this turn either. Texts: ``utter_ask_delete_my_data`` in
domain.yml and ``privacy.*`` in config/messages.yml.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_intent, send
from bot.booking import PERSONAL_SLOTS
from bot.messages import message
from bot.privacy import ERASED_SLOT, STEP_ERASED, STEP_ERROR, STEP_KEPT, TOPIC
from bot.privacy.erase import CHAT, erase_sender
from bot.settings import get_settings

logger = logging.getLogger(__name__)

YES = "affirm"
HELP_PAYLOAD = "/help"


def privacy_custom(step: str, **extra: Any) -> Dict[str, Any]:
    """The reply contract's ``custom`` object for a delete_my_data turn."""
    return {"topic": TOPIC, "step": step, **extra}


class ActionAskDeleteMyData(Action):
    """Ask to confirm the erasure; an open booking form ends here (its details are dropped)."""

    def name(self) -> Text:
        return "action_ask_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            response="utter_ask_delete_my_data", **get_settings().template_values()
        )
        if not tracker.active_loop_name:
            return []
        ended: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
        return ended + [SlotSet(slot, None) for slot in PERSONAL_SLOTS]


class ActionDeleteMyData(Action):
    """After yes: erase and say so. After no: say nothing was erased."""

    def name(self) -> Text:
        return "action_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        more = [{"title": message("buttons.more_topics"), "payload": HELP_PAYLOAD}]
        if latest_intent(tracker) != YES:
            send(dispatcher, message("privacy.kept"), privacy_custom(STEP_KEPT), more)
            return []
        try:
            done = await asyncio.to_thread(erase_sender, tracker.sender_id, via=CHAT)
        except Exception as error:  # noqa: BLE001 - any failure: say so, give the phone
            logger.error("erasure requested in the chat failed: %s", type(error).__name__)
            send(dispatcher, message("privacy.error"), privacy_custom(STEP_ERROR))
            return []
        send(
            dispatcher,
            message("privacy.erased", bookings=str(done.bookings)),
            privacy_custom(STEP_ERASED, bookings_erased=done.bookings),
        )
        return [SlotSet(ERASED_SLOT, True)]
