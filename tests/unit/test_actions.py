"""What the person is shown by each action, with CollectingDispatcher and Tracker fixtures."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswer
from actions.fallback import ActionClarify, ActionOutOfScope
from actions.safety import ActionCrisis, ActionPersonalAdvice
from actions.smalltalk import ActionSmallTalk
from tests.conftest import make_tracker


def run(action: Any, tracker: Any) -> tuple:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def custom_of(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    return next(m["custom"] for m in messages if m.get("custom"))


def test_answer_sends_text_buttons_and_citations(kb_url: str) -> None:
    messages, events = run(ActionAnswer(), make_tracker("ibs", "is my IBS linked to anxiety"))
    assert events == []
    assert "IBS" in messages[0]["text"] or "irritable" in messages[0]["text"].lower()
    assert messages[0]["buttons"], "follow-up buttons are offered"
    custom = custom_of(messages)
    assert custom["topic"] == "ibs"
    assert {c["kind"] for c in custom["citations"]} == {"article", "paper"}


def test_unknown_topic_is_answered_honestly_not_guessed(kb_url: str) -> None:
    messages, _ = run(ActionAnswer(), make_tracker("not_a_topic"))
    assert custom_of(messages)["topic"] == "out_of_scope"
    assert "I can only help" in messages[0]["text"]


def test_crisis_lists_resources_and_ends_an_open_form(kb_url: str) -> None:
    tracker = make_tracker("crisis", "I want to end my life", active_loop="booking_form")
    messages, events = run(ActionCrisis(), tracker)
    text = messages[0]["text"]
    for needle in ("988", "911", "1-877-303-2642"):
        assert needle in text
    custom = custom_of(messages)
    assert custom["topic"] == "crisis"
    assert {r["phone"] for r in custom["resources"]} >= {"988", "911", "1-877-303-2642"}
    assert not messages[0].get("buttons"), "no booking pitch after a crisis reply"
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]


def test_personal_advice_declines_and_offers_booking(kb_url: str) -> None:
    messages, _ = run(ActionPersonalAdvice(), make_tracker("personal_advice"))
    text = messages[0]["text"].lower()
    assert "can't give advice" in text
    assert "don't stop or change any medication" in text
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/book_appointment"]
    assert custom_of(messages)["topic"] == "personal_advice"


def test_clarify_offers_both_close_topics(kb_url: str) -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "probiotic_strains", "confidence": 0.41},
        {"name": "probiotic_evidence", "confidence": 0.38},
    ]
    messages, _ = run(ActionClarify(), make_tracker("nlu_fallback", ranking=ranking))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads[:2] == ["/probiotic_strains", "/probiotic_evidence"]


def test_clarify_without_plausible_topics_is_out_of_scope(kb_url: str) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "scfa", "confidence": 0.2}]
    messages, _ = run(ActionClarify(), make_tracker("nlu_fallback", ranking=ranking))
    assert custom_of(messages)["topic"] == "out_of_scope"


def test_out_of_scope_suggests_topics(kb_url: str) -> None:
    messages, _ = run(ActionOutOfScope(), make_tracker("out_of_scope"))
    assert len(messages[0]["buttons"]) >= 3


def test_small_talk_uses_the_response_for_the_intent(kb_url: str) -> None:
    messages, _ = run(ActionSmallTalk(), make_tracker("greet"))
    assert messages[0]["response"] == "utter_greet"
    assert messages[0]["clinic_privacy_url"].startswith("http")
