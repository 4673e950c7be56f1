"""Replies for crisis and personal-advice turns (no Rasa types here)."""

from __future__ import annotations

from typing import Dict, List, Optional

from bot.intents import CRISIS, PERSONAL_ADVICE
from bot.knowledge.answers import BOOKING_PAYLOAD, citations
from bot.knowledge.store import Topic
from bot.messages import message
from bot.reply import Reply
from bot.settings import Settings, get_settings


def crisis_reply(settings: Optional[Settings] = None) -> Reply:
    """The crisis lines from the settings, after a short lead-in (channels list them)."""
    settings = settings or get_settings()
    return Reply.of(
        CRISIS, message("crisis_intro", settings), message("crisis_outro", settings),
        resources=[r.as_dict() for r in settings.crisis_resources],
    )


def safety_line(settings: Optional[Settings] = None) -> str:
    """One line with the first two crisis lines, for uncertain signs of risk."""
    settings = settings or get_settings()
    lines = " or ".join(f"{r.name} ({r.phone})" for r in settings.crisis_resources[:2])
    return message("crisis_safety_line", settings, crisis_lines=lines)


def personal_advice_reply(
    guidance: Optional[Topic], settings: Optional[Settings] = None
) -> Reply:
    """No individual advice: explain why in the article's terms, offer booking."""
    settings = settings or get_settings()
    buttons: List[Dict[str, str]] = [
        {"title": message("buttons.book", settings), "payload": BOOKING_PAYLOAD}
    ]
    return Reply.of(
        PERSONAL_ADVICE, message("personal_advice", settings),
        citations=citations(guidance, settings) if guidance is not None else (),
        buttons=buttons,
    )
