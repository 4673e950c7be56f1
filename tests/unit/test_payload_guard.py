"""Typed payloads cannot smuggle entities, confidences or Rasa's built-in intents."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_components.payload_guard import DEFAULT_BLOCKED, PayloadGuard, sanitise


@pytest.mark.parametrize(
    "typed, seen",
    [
        ("/scfa", "/scfa"),
        ("  /book_appointment ", "/book_appointment"),
        ('/book_appointment{"booking_name": "x"}', 'book_appointment{"booking_name": "x"}'),
        ("/greet@0.99", "greet@0.99"),
        ("/restart", "restart"),
        ("/session_start", "session_start"),
        ("//crisis", "crisis"),
        ("what is /r/ibs", "what is /r/ibs"),
    ],
)
def test_sanitise(typed: str, seen: str) -> None:
    assert sanitise(typed, DEFAULT_BLOCKED) == seen


def test_component_rewrites_message_text() -> None:
    guard = PayloadGuard(PayloadGuard.get_default_config())
    message = Message(data={"text": '/affirm{"booking_consent": true}'})
    guard.process([message])
    assert message.get("text") == 'affirm{"booking_consent": true}'
