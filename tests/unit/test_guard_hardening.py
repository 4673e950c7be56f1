"""The channel safeguards the hardening relies on (bot/channels/guard.py, rest.py).

The short wait for the action server is an adaptation of Rasa: tests/unit/test_runtime.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain

from bot.channels import guard
from bot.channels.rest import (
    DEFAULT_ACTION_TIMEOUT,
    _conversations_in_memory,
    action_wait,
    action_wait_from_file,
)
from bot.settings import PROJECT_ROOT, get_settings


@pytest.mark.parametrize("sender", ["a\x00b", "line\nbreak", "tab\there", "\ud800", "bell\x07"])
def test_a_sender_id_with_control_characters_is_refused(sender: str) -> None:
    with pytest.raises(guard.BadRequest, match="control characters"):
        guard.clean_sender(sender)


@pytest.mark.parametrize("sender,cleaned", [("  web-1 ", "web-1"), (42, "42"),
                                            ("émile-ß", "émile-ß")])
def test_ordinary_sender_ids_are_kept(sender: Any, cleaned: str) -> None:
    assert guard.clean_sender(sender) == cleaned


def test_text_loses_control_characters_and_empty_text_asks_for_help() -> None:
    assert guard.clean_text("he\x00llo\x1b[31m") == "hello[31m"
    assert guard.clean_text("\ud800\u200b") == guard.EMPTY_MESSAGE_PAYLOAD
    assert len(guard.clean_text("x" * 100_000)) == guard.MAX_MESSAGE_CHARS


def test_the_rest_channel_sets_a_short_action_wait_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The wait its credentials give; bot.runtime applies it at server start (test_runtime.py)."""
    monkeypatch.delenv("ACTION_TIMEOUT", raising=False)
    assert action_wait({"turn_timeout": 10}) == DEFAULT_ACTION_TIMEOUT == 5.0
    assert action_wait_from_file(str(PROJECT_ROOT / "credentials.yml")) == 5.0
    assert action_wait_from_file(None) == 5.0
    monkeypatch.setenv("ACTION_TIMEOUT", "2.5")
    get_settings.cache_clear()  # settings are read once per process
    assert action_wait({}) == 2.5
    assert action_wait({"action_timeout": 3}) == 3.0
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("bot.channels.rest.ClinicRestInput:\n  action_timeout: 3\n")
    assert action_wait_from_file(str(credentials)) == 3.0


def test_an_action_wait_longer_than_the_turn_is_cut_to_half_the_turn() -> None:
    assert action_wait({"turn_timeout": 6, "action_timeout": 30}) == 3.0


def test_the_health_check_refuses_conversations_kept_in_memory() -> None:
    def request(store: Any) -> Any:
        return SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace(
            agent=SimpleNamespace(tracker_store=store))))

    memory = InMemoryTrackerStore(Domain.empty())
    assert _conversations_in_memory(request(FailSafeTrackerStore(memory)))
    assert _conversations_in_memory(request(memory))
    assert not _conversations_in_memory(request(object()))
    assert not _conversations_in_memory(SimpleNamespace(app=SimpleNamespace()))


def test_a_flooding_sender_is_limited_and_others_are_not() -> None:
    limiter = guard.RateLimiter(limit=10, window_seconds=5.0)
    allowed = [limiter.allow("flood", now=100.0 + i / 1000) for i in range(500)]
    assert sum(allowed) == 10
    assert limiter.allow("someone-else", now=100.5)
    assert limiter.allow("flood", now=106.0), "the window slides: the flood may speak again"


def test_a_failed_turn_is_reported_as_unanswered() -> None:
    async def fails() -> None:
        raise RuntimeError("database down")

    async def slow() -> None:
        await asyncio.sleep(5)

    assert not asyncio.run(guard.run_with_reply_guarantee(fails, lambda: [], 1.0))
    assert not asyncio.run(guard.run_with_reply_guarantee(slow, lambda: [], 0.05))
    reply = guard.unavailable_reply()
    assert reply["custom"]["topic"] == "help" and "(403) 555-0142" in reply["text"]
