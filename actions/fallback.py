"""Low confidence and out-of-scope: ask which topic was meant, or say honestly what we cover."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import ranked_intents, send
from bot.intents import HELP, OUT_OF_SCOPE
from bot.knowledge.answers import topic_payload
from bot.knowledge.store import Topic, all_topics
from bot.messages import message
from bot.settings import get_settings

# Topics suggested when we cannot help: the broadest entry points into the article.
SUGGESTED_TOPICS = ("gut_brain_axis", "probiotic_evidence", "ibs")


def suggestion_buttons(topics: Mapping[str, Topic], ids: List[str]) -> List[Dict[str, str]]:
    buttons = [{"title": topics[i].title, "payload": topic_payload(i)} for i in ids if i in topics]
    buttons.append({"title": message("buttons.book"), "payload": "/book_appointment"})
    return buttons


def send_out_of_scope(
    dispatcher: CollectingDispatcher,
    topics: Mapping[str, Topic],
    tracker: Optional[Tracker] = None,
) -> None:
    send(
        dispatcher,
        message("out_of_scope"),
        {"topic": OUT_OF_SCOPE},
        suggestion_buttons(topics, list(SUGGESTED_TOPICS)),
        tracker,
    )


def clarification_candidates(
    ranking: List[tuple], topics: Mapping[str, Topic], min_confidence: float
) -> List[str]:
    """The two best knowledge topics when both are plausible, else an empty list."""
    candidates = [name for name, score in ranking[:2] if name in topics and score >= min_confidence]
    return candidates if len(candidates) == 2 else []


def understood_candidates(tracker: Tracker, topics: Mapping[str, Topic]) -> List[str]:
    """The two close topics the classifier named (``understanding.clarify``), if both exist."""
    understanding = tracker.latest_message.get("understanding") or {}
    named = understanding.get("clarify") if isinstance(understanding, dict) else None
    if isinstance(named, list) and len(named) == 2 and all(n in topics for n in named):
        return [str(n) for n in named]
    return []


class ActionOutOfScope(Action):
    """Say honestly what the assistant can help with."""

    def name(self) -> Text:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        send_out_of_scope(dispatcher, all_topics(), tracker)
        return []


class ActionClarify(Action):
    """Unsure between two topics: ask which was meant; otherwise treat as out of scope."""

    def name(self) -> Text:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topics = all_topics()
        candidates = understood_candidates(tracker, topics)
        if not candidates:
            minimum = float(get_settings().extra.get("clarify_min_confidence", 0.25))
            candidates = clarification_candidates(ranked_intents(tracker), topics, minimum)
        if not candidates:
            send_out_of_scope(dispatcher, topics, tracker)
            return []
        send(
            dispatcher,
            message("clarify"),
            {"topic": HELP, "clarify": candidates},
            suggestion_buttons(topics, candidates),
            tracker,
        )
        return []
