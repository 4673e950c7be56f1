"""The "delete my data" actions (actions/privacy.py), with CollectingDispatcher."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import privacy as actions
from bot.privacy.erase import Erasure, ErasureError
from bot.reply import LAYOUT_KEYS
from bot.settings import get_settings
from tests.conftest import make_tracker


def run(action: Any, tracker: Any) -> tuple[CollectingDispatcher, List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher, events


def custom(dispatcher: CollectingDispatcher) -> Dict[str, Any]:
    """The reply contract's ``custom`` object (the reply's layout keys aside)."""
    found = next(m["custom"] for m in dispatcher.messages if m.get("custom"))
    return {k: v for k, v in found.items() if k not in LAYOUT_KEYS}


def text(dispatcher: CollectingDispatcher) -> str:
    return " ".join(m["text"] for m in dispatcher.messages if m.get("text"))


def test_the_question_is_the_domain_response_with_the_clinic_details() -> None:
    dispatcher, events = run(actions.ActionAskDeleteMyData(), make_tracker("delete_my_data"))
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_delete_my_data"
    assert message["clinic_privacy_url"] == get_settings().clinic["privacy_url"]
    assert events == []


def test_asking_mid_booking_ends_the_form_and_drops_its_details() -> None:
    tracker = make_tracker("delete_my_data", active_loop="booking_form",
                           slots={"booking_name": "Maria Testperson"})
    _, events = run(actions.ActionAskDeleteMyData(), tracker)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert {"event": "slot", "name": "booking_name", "value": None, "timestamp": None} in events


def test_yes_erases_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    erased: List[str] = []

    def fake_erase(sender: str, via: str) -> Erasure:
        erased.append(f"{sender}/{via}")
        return Erasure(conversations=1, events=12, bookings=2, feedback=0,
                       references=("HF-ABC234", "HF-XYZ789"))

    monkeypatch.setattr(actions, "erase_sender", fake_erase)
    dispatcher, events = run(actions.ActionDeleteMyData(), make_tracker("affirm", "yes"))
    assert erased == ["test-user/chat"]
    assert custom(dispatcher) == {"topic": "delete_my_data", "step": "erased",
                                  "bookings_erased": 2}
    assert "erased this conversation and 2 booking request(s)" in text(dispatcher)
    assert events == [{"event": "slot", "name": "privacy_erased", "value": True,
                       "timestamp": None}]


def test_no_erases_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "erase_sender", lambda *a, **k: pytest.fail("erased"))
    dispatcher, events = run(actions.ActionDeleteMyData(), make_tracker("deny", "no"))
    assert custom(dispatcher)["step"] == "kept" and events == []
    assert "haven't erased anything" in text(dispatcher)


def test_a_failed_erasure_gives_the_phone_number_and_sets_no_flag(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Erasure:
        raise ErasureError("database down")

    monkeypatch.setattr(actions, "erase_sender", broken)
    dispatcher, events = run(actions.ActionDeleteMyData(), make_tracker("affirm", "yes"))
    assert custom(dispatcher) == {"topic": "delete_my_data", "step": "error"}
    assert get_settings().phone in text(dispatcher)
    assert events == [], "the conversation is not dropped when the erasure did not happen"
