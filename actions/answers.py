"""Answers to knowledge questions, built from the knowledge base with citations."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_intent, send_reply
from actions.fallback import send_out_of_scope
from bot.knowledge.answers import build_answer
from bot.knowledge.store import all_topics

logger = logging.getLogger(__name__)


class ActionAnswer(Action):
    """Answer the knowledge topic named by the latest intent."""

    def name(self) -> Text:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topics = all_topics()
        topic = topics.get(latest_intent(tracker))
        if topic is None:
            logger.warning("no knowledge entry for intent %s", latest_intent(tracker))
            send_out_of_scope(dispatcher, topics, tracker)
            return []
        reply = build_answer(topic, topics)
        send_reply(dispatcher, reply, tracker)
        return []
