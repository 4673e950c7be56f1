"""Replies for crisis and personal-advice turns (no Rasa types here)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from bot.intents import CRISIS, PERSONAL_ADVICE
from bot.knowledge.answers import BOOKING_PAYLOAD, citations
from bot.knowledge.store import Topic
from bot.messages import message
from bot.settings import Settings, get_settings


def crisis_reply(settings: Optional[Settings] = None) -> Dict[str, Any]:
    """Crisis resources first, in text and in the contract's ``resources`` list."""
    settings = settings or get_settings()
    lines = [message("crisis_intro", settings)]
    lines += [f"- {r.name}: {r.phone}. {r.when}" for r in settings.crisis_resources]
    lines.append(message("crisis_outro", settings))
    return {
        "text": "\n".join(lines),
        "buttons": [],
        "custom": {
            "topic": CRISIS,
            "resources": [r.as_dict() for r in settings.crisis_resources],
        },
    }


def safety_line(settings: Optional[Settings] = None) -> str:
    """One line with the first two crisis lines, for uncertain signs of risk."""
    settings = settings or get_settings()
    lines = " or ".join(f"{r.name} ({r.phone})" for r in settings.crisis_resources[:2])
    return message("crisis_safety_line", settings, crisis_lines=lines)


def personal_advice_reply(
    guidance: Optional[Topic], settings: Optional[Settings] = None
) -> Dict[str, Any]:
    """No individual advice: explain why in the article's terms, offer booking."""
    settings = settings or get_settings()
    custom: Dict[str, Any] = {"topic": PERSONAL_ADVICE}
    if guidance is not None:
        custom["citations"] = citations(guidance, settings)
    buttons: List[Dict[str, str]] = [
        {"title": message("buttons.book", settings), "payload": BOOKING_PAYLOAD}
    ]
    return {"text": message("personal_advice", settings), "buttons": buttons, "custom": custom}
