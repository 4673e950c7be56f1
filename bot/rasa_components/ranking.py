"""Reading and rewriting a parsed message's intent ranking (shared by the guard components)."""

from __future__ import annotations

from typing import Any

from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
)
from rasa.shared.nlu.training_data.message import Message


def ranking_without(message: Message, name: str) -> list[dict[str, Any]]:
    """The message's intent ranking with ``name`` left out."""
    return [
        entry
        for entry in message.get(INTENT_RANKING_KEY) or []
        if entry.get(INTENT_NAME_KEY) != name
    ]


def put_first(message: Message, name: str, confidence: float = 1.0) -> None:
    """Make ``name`` the message's intent and the head of its ranking (no duplicate)."""
    chosen = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence}
    message.set(INTENT, chosen, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [dict(chosen), *ranking_without(message, name)],
                add_to_output=True)


def best_guess(message: Message) -> dict[str, Any] | None:
    """The classifier's best ranked intent other than ``nlu_fallback``, if any."""
    for entry in message.get(INTENT_RANKING_KEY) or []:
        if entry.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME:
            return dict(entry)
    return None
