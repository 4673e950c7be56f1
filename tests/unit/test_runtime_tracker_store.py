"""The strict SQL tracker store: no fall-back to memory, masking once stored, erasure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Iterator, List

import pytest
import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.orm import sessionmaker

from bot.runtime import tracker_store as runtime_tracker_store
from bot.runtime.tracker_store import (
    StrictFailSafeTrackerStore,
    StrictSQLTrackerStore,
    TrackerStoreUnavailable,
)
from bot.settings import PROJECT_ROOT

NAME = "Maria Testperson"
EMAIL = "maria.testperson@example.com"
REASON = "IBS and feeling low for months"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(autouse=True)
def strict_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Agent's wrapper as the server has it (bot.runtime.install), put back afterwards."""
    import rasa.core.agent as rasa_agent

    monkeypatch.setattr(rasa_agent, "FailSafeTrackerStore", rasa_agent.FailSafeTrackerStore)
    runtime_tracker_store.install()


@pytest.fixture()
def store(domain: Domain, tmp_path: Path) -> Iterator[StrictSQLTrackerStore]:
    tracker_store = StrictSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    yield tracker_store
    tracker_store.engine.dispose()


def said(text: str, intent: str = "inform") -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 1.0},
                       parse_data={"text": text, "intent": {"name": intent, "confidence": 1.0},
                                   "entities": []})


def turns() -> List[List[Event]]:
    """A booking over seven turns, as Rasa stores it after each."""
    return [
        [said("/book_appointment", "book_appointment"), ActionExecuted("action_booking_intro"),
         ActionExecuted("booking_form"), ActiveLoop("booking_form"),
         SlotSet("requested_slot", "booking_name"),
         BotUttered("What name should the clinic use for you?"),
         ActionExecuted("action_listen")],
        [said(NAME), SlotSet("booking_name", NAME), ActionExecuted("booking_form"),
         SlotSet("requested_slot", "booking_contact"),
         BotUttered(f"Thanks, {NAME}. How can the clinic reach you?"),
         ActionExecuted("action_listen")],
        [said(EMAIL), SlotSet("booking_contact", EMAIL), ActionExecuted("booking_form"),
         SlotSet("booking_contact_kind", "email"), SlotSet("requested_slot", "booking_times"),
         ActionExecuted("action_listen")],
        [said("tuesday mornings"), SlotSet("booking_times", "tuesday mornings"),
         ActionExecuted("booking_form"), SlotSet("requested_slot", "booking_reason"),
         ActionExecuted("action_listen")],
        [said(REASON), SlotSet("booking_reason", REASON), ActionExecuted("booking_form"),
         SlotSet("requested_slot", "booking_consent"), ActionExecuted("action_listen")],
        [said("yes", "affirm"), SlotSet("booking_consent", True), ActionExecuted("booking_form"),
         SlotSet("requested_slot", "booking_confirmed"),
         BotUttered(f"Name: {NAME}\nContact: {EMAIL}\nReason: {REASON}",
                    metadata={"name": NAME, "contact": EMAIL, "reason": REASON}),
         ActionExecuted("action_listen")],
        [said("yes", "affirm"), SlotSet("booking_confirmed", True),
         ActionExecuted("booking_form"), ActiveLoop(None), SlotSet("requested_slot", None),
         ActionExecuted("action_submit_booking"),
         BotUttered(f"Thank you, {NAME}. Your reference is HF-ABC234."),
         *[SlotSet(s, None) for s in ("booking_name", "booking_contact", "booking_times",
                                      "booking_reason", "booking_consent", "booking_confirmed")],
         SlotSet("booking_reference", "HF-ABC234"), ActionExecuted("action_listen")],
    ]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def stored_rows(store: SQLTrackerStore, sender: str) -> List[str]:
    with store.session_scope() as session:
        rows = session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender)
        return [row.data for row in rows.order_by(store.SQLEvent.id)]


def play(store: StrictSQLTrackerStore, domain: Domain, sender: str,
         conversation: List[List[Event]]) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, domain.slots)
    for turn in conversation:
        for event in turn:
            tracker.update(event, domain)
        run(store.save(tracker))
    return tracker


def test_details_stay_while_the_form_runs_so_a_restart_can_resume_it(
    store: StrictSQLTrackerStore, domain: Domain
) -> None:
    play(store, domain, "mid-form", turns()[:5])
    resumed = run(store.retrieve("mid-form"))
    assert resumed.active_loop_name == "booking_form"
    assert resumed.get_slot("booking_name") == NAME
    assert resumed.get_slot("booking_contact") == EMAIL
    assert resumed.get_slot("requested_slot") == "booking_consent"


def test_details_are_masked_in_every_stored_row_once_the_request_is_stored(
    store: StrictSQLTrackerStore, domain: Domain
) -> None:
    tracker = play(store, domain, "booked", turns())
    rows = stored_rows(store, "booked")
    assert len(rows) == len(tracker.events), "one row per event, as Rasa counts them"
    everything = "\n".join(rows)
    for detail in (NAME, EMAIL, REASON, "tuesday mornings", "Maria"):
        assert detail not in everything, detail
    assert "HF-ABC234" in everything and "[removed]" in everything
    again = run(store.retrieve("booked"))
    assert again.get_slot("booking_reference") == "HF-ABC234"
    assert again.get_slot("booking_name") is None and again.active_loop_name is None
    # A later turn appends after the masked rows; nothing is stored twice.
    again.update(said("thanks", "thanks"), domain)
    run(store.save(again))
    assert len(stored_rows(store, "booked")) == len(tracker.events) + 1


def test_turns_read_back_and_saved_store_each_event_once(
    store: StrictSQLTrackerStore, domain: Domain, tmp_path: Path
) -> None:
    """As the server does it: read the conversation, add a turn, save; seven times over."""
    expected: List[Event] = []
    for turn in turns()[:5]:
        tracker = run(store.retrieve("server")) or DialogueStateTracker("server", domain.slots)
        for event in turn:
            tracker.update(event, domain)
        expected.extend(turn)
        run(store.save(tracker))
        run(store.save(tracker))  # saving again with nothing new stores nothing
    assert len(stored_rows(store, "server")) == len(expected)
    restarted = StrictSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    again = run(restarted.retrieve("server"))
    restarted.engine.dispose()
    assert [e.as_dict()["event"] for e in again.events] == [e.as_dict()["event"] for e in expected]
    assert again.get_slot("booking_contact") == EMAIL


def test_a_sqlite_file_keeps_its_connection_open_between_turns(
    store: StrictSQLTrackerStore, domain: Domain
) -> None:
    opened: List[object] = []
    sa.event.listen(store.engine, "connect", lambda *_: opened.append(1))
    for _ in range(3):
        tracker = play(store, domain, "pooled", turns()[:1])
        run(store.retrieve("pooled"))
    assert tracker and len(opened) <= 1


def test_the_erasure_flag_deletes_the_whole_conversation(
    store: StrictSQLTrackerStore, domain: Domain
) -> None:
    tracker = play(store, domain, "erase-me", turns()[:3])
    play(store, domain, "someone-else", turns()[:2])
    tracker.update(said("yes", "affirm"), domain)
    tracker.update(ActionExecuted("action_delete_my_data"), domain)
    tracker.update(SlotSet("privacy_erased", True), domain)
    run(store.save(tracker))
    assert stored_rows(store, "erase-me") == []
    assert run(store.retrieve("erase-me")) is None
    assert stored_rows(store, "someone-else"), "other conversations are untouched"


def _break(store: SQLTrackerStore, tmp_path: Path) -> None:
    """Point the store at a database file that cannot be opened."""
    store.engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    store.sessionmaker = sessionmaker(bind=store.engine)


def test_the_agent_wraps_it_in_the_strict_wrapper(
    store: StrictSQLTrackerStore, domain: Domain
) -> None:
    wrapped = Agent._create_tracker_store(store, domain)
    assert isinstance(wrapped, StrictFailSafeTrackerStore)


def test_a_database_failure_fails_the_turn_instead_of_forgetting(
    store: StrictSQLTrackerStore, domain: Domain, tmp_path: Path
) -> None:
    wrapped = Agent._create_tracker_store(store, domain)
    tracker = play(store, domain, "known", turns()[:2])
    _break(store, tmp_path)
    with pytest.raises(TrackerStoreUnavailable):
        run(wrapped.retrieve("known"))
    tracker.update(said("are you there?", "greet"), domain)
    with pytest.raises(TrackerStoreUnavailable):
        run(wrapped.save(tracker))
    assert wrapped._fallback_tracker_store is None, "nothing was kept in memory"


def test_rasas_own_wrapper_would_have_answered_as_if_nothing_was_known(
    domain: Domain, tmp_path: Path
) -> None:
    """The behaviour the strict store exists to prevent (rasa#3243)."""
    plain = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "plain.db"))
    _break(plain, tmp_path)
    wrapped = FailSafeTrackerStore(plain)
    assert run(wrapped.retrieve("known")) is None
    tracker = DialogueStateTracker("known", domain.slots)
    tracker.update(said("hello", "greet"), domain)
    run(wrapped.save(tracker))  # silently kept in memory
    assert run(wrapped.fallback_tracker_store.retrieve("known")) is not None


def test_error_messages_carry_no_conversation_text(
    store: StrictSQLTrackerStore, domain: Domain, tmp_path: Path,
    caplog: pytest.LogCaptureFixture
) -> None:
    wrapped = Agent._create_tracker_store(store, domain)
    tracker = play(store, domain, "private", turns()[:2])
    _break(store, tmp_path)
    tracker.update(said(f"I am {NAME}"), domain)
    with pytest.raises(TrackerStoreUnavailable) as raised:
        run(wrapped.save(tracker))
    assert raised.value.__cause__ is None and NAME not in str(raised.value)
    assert NAME not in caplog.text and "OperationalError" in caplog.text


def test_rows_are_valid_json_events(store: StrictSQLTrackerStore, domain: Domain) -> None:
    play(store, domain, "json", turns())
    assert all(json.loads(row)["event"] for row in stored_rows(store, "json"))


def test_endpoints_yml_names_this_store_and_rasa_loads_it(domain: Domain, tmp_path: Path) -> None:
    """Rasa falls back to memory, with a mere warning, when a custom store fails to load."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import EndpointConfig

    from bot.deploy.endpoints import tracker_store_config

    config = tracker_store_config(f"sqlite:///{tmp_path / 'loaded.db'}")
    assert config["type"] == "bot.runtime.tracker_store.StrictSQLTrackerStore"
    loaded = TrackerStore.create(EndpointConfig(**config), domain)
    assert isinstance(loaded, StrictSQLTrackerStore)
    loaded.engine.dispose()
    postgres = tracker_store_config("postgresql://clinic:secret@db:5432/tracker")
    assert postgres["type"] == config["type"] and postgres["password"] == "${TRACKER_DB_PASSWORD}"
