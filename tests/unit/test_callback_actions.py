"""The call-back request: a phone number is required, consent is asked, a "no" stores nothing,
and what is stored is a call-back with its notifications; a crisis ends the form."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.callback import ActionSubmitCallback, ValidateCallbackForm
from actions.clinic import ActionClinicAnswer, ActionContactHuman
from actions.safety import ActionCrisis
from bot import db
from bot.booking import store
from bot.migrations import migrate
from bot.booking import outbox
from bot.settings import get_settings
from tests.conftest import make_tracker


@pytest.fixture()
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    database = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("DATABASE_URL", database)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    migrate(database)
    yield database
    get_settings.cache_clear()
    db.get_engine.cache_clear()


def customs(dispatcher: CollectingDispatcher) -> List[Dict[str, Any]]:
    return [m["custom"] for m in dispatcher.messages if m.get("custom")]


def text(dispatcher: CollectingDispatcher) -> str:
    return " ".join(str(m.get("text") or "") for m in dispatcher.messages)


def test_an_email_is_not_a_phone_number_for_a_call_back() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("inform", "sam@example.org", active_loop="callback_form",
                           slots={"requested_slot": "callback_phone"})
    result = ValidateCallbackForm().validate_callback_phone("sam@example.org", dispatcher,
                                                            tracker, {})
    assert result == {"callback_phone": None}
    assert "needs a phone number" in text(dispatcher)
    ok = ValidateCallbackForm().validate_callback_phone("(587) 555-0123", CollectingDispatcher(),
                                                        tracker, {})
    assert ok == {"callback_phone": "+15875550123"}


def test_submit_stores_a_call_back_with_its_notifications(url: str) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("affirm", "yes", slots={
        "callback_name": "Priya N", "callback_phone": "+15875550123", "callback_consent": True})
    events = asyncio.run(ActionSubmitCallback().run(dispatcher, tracker, {}))
    (custom,) = customs(dispatcher)
    assert custom["topic"] == "contact_human" and custom["step"] == "submitted"
    assert custom["citations"][0]["kind"] == "clinic"
    stored = store.get_booking(custom["reference"], url)
    assert stored is not None and stored.kind == "callback" and stored.name == "Priya N"
    assert {r.channel for r in outbox.rows_for(custom["reference"], url)} == {
        outbox.CLINIC_EMAIL, outbox.WEBHOOK}
    assert custom["reference"] in text(dispatcher)
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {
        "callback_name": None, "callback_phone": None, "callback_consent": None}


def test_no_consent_stores_nothing(url: str) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("deny", "no", slots={
        "callback_name": "Priya N", "callback_phone": "+15875550123", "callback_consent": False})
    asyncio.run(ActionSubmitCallback().run(dispatcher, tracker, {}))
    assert customs(dispatcher)[0]["step"] == "cancelled"
    assert store.list_bookings(url) == []


def test_a_database_outage_gets_the_phone_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker("affirm", "yes", slots={
            "callback_name": "Priya N", "callback_phone": "+15875550123", "callback_consent": True})
        asyncio.run(ActionSubmitCallback().run(dispatcher, tracker, {}))
    finally:
        get_settings.cache_clear()
        db.get_engine.cache_clear()
    assert customs(dispatcher)[0]["step"] == "error"
    assert "(403) 555-0142" in text(dispatcher)


def test_a_crisis_ends_the_call_back_form() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("crisis", "I want to end my life", active_loop="callback_form",
                           slots={"requested_slot": "callback_phone"})
    events = asyncio.run(ActionCrisis().run(dispatcher, tracker, {}))
    assert customs(dispatcher)[0]["topic"] == "crisis"
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]


def test_clinic_actions_answer_with_the_clinic_citation() -> None:
    for action, intent, topic in ((ActionClinicAnswer(), "clinic_fees", "clinic_fees"),
                                  (ActionContactHuman(), "contact_human", "contact_human")):
        dispatcher = CollectingDispatcher()
        asyncio.run(action.run(dispatcher, make_tracker(intent, "?"), {}))
        (custom,) = customs(dispatcher)
        assert custom["topic"] == topic and custom["citations"][0]["kind"] == "clinic"
