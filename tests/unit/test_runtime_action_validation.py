"""The cached validator accepts and refuses exactly what Rasa's own check does (bot/runtime)."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot.runtime import action_validation


def test_same_verdicts_as_rasa() -> None:
    action_validation.install()
    action = RemoteAction("action_answer", EndpointConfig("http://127.0.0.1:1/webhook"))
    good = {"events": [{"event": "slot", "name": "x", "value": 1}],
            "responses": [{"text": "hi", "custom": {"topic": "greet"}}]}
    assert action._validate_action_result(good) is True
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list"})
    assert action_validation.install() is False, "installed once only"
