"""The channel safeguards the hardening relies on (bot/channels/guard.py, rest.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Iterator, List

import pytest
import rasa.core.actions.action as rasa_action
import rasa.utils.endpoints as rasa_endpoints
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain

from bot.channels import guard
from bot.channels.rest import ClinicRestInput, _conversations_in_memory
from bot.settings import get_settings


@pytest.fixture()
def rasa_timeouts() -> Iterator[None]:
    """Put Rasa's action-server timeouts back after a test changed them."""
    saved = (rasa_endpoints.DEFAULT_REQUEST_TIMEOUT, rasa_action.DEFAULT_REQUEST_TIMEOUT)
    yield
    rasa_endpoints.DEFAULT_REQUEST_TIMEOUT, rasa_action.DEFAULT_REQUEST_TIMEOUT = saved


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


def test_the_action_server_wait_is_set_where_rasa_reads_it(rasa_timeouts: None) -> None:
    guard.limit_action_server_wait(4.0)
    assert rasa_endpoints.DEFAULT_REQUEST_TIMEOUT == 4.0
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 4.0

    async def session_timeout() -> float:
        async with rasa_endpoints.EndpointConfig("http://127.0.0.1:1/webhook").session() as s:
            return float(s.timeout.total)

    assert asyncio.run(session_timeout()) == 4.0


def test_the_rest_channel_sets_a_short_action_wait_at_start_up(
    rasa_timeouts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTION_TIMEOUT", raising=False)
    channel = ClinicRestInput.from_credentials({"turn_timeout": 10})
    assert channel.action_timeout == guard.DEFAULT_ACTION_TIMEOUT == 5.0
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 5.0
    monkeypatch.setenv("ACTION_TIMEOUT", "2.5")
    get_settings.cache_clear()  # settings are read once per process
    assert ClinicRestInput.from_credentials({}).action_timeout == 2.5
    assert ClinicRestInput.from_credentials({"action_timeout": 3}).action_timeout == 3.0


def test_an_action_wait_longer_than_the_turn_is_cut_to_half_the_turn(rasa_timeouts: None) -> None:
    channel = ClinicRestInput(turn_timeout=6, action_timeout=30)
    assert channel.action_timeout == 3.0


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


class _FakeEndpoint:
    """Stands in for EndpointConfig: each call pops the next outcome."""

    def __init__(self, outcomes: List[Any]) -> None:
        self.outcomes = outcomes
        self.calls = 0

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def test_after_one_timeout_the_rest_of_the_turn_fails_at_once() -> None:
    import aiohttp

    class Endpoint(_FakeEndpoint):
        pass

    guard._fail_fast_after_an_outage(Endpoint)
    guard._fail_fast_after_an_outage(Endpoint)  # idempotent: wrapped once

    async def turn(endpoint: Endpoint) -> List[str]:
        results = []
        for _ in range(3):
            try:
                results.append(str(await endpoint.request()))
            except (asyncio.TimeoutError, aiohttp.ClientConnectionError) as error:
                results.append(type(error).__name__)
        return results

    async def two_turns() -> List[List[str]]:
        first = Endpoint([asyncio.TimeoutError(), "never", "never"])
        second = Endpoint(["ok", "ok", "ok"])
        results = [await guard_turn(turn(first)), await guard_turn(turn(second))]
        assert first.calls == 1, "the later calls of the failed turn did not wait again"
        return results

    async def guard_turn(work: Any) -> List[str]:
        box: List[List[str]] = []

        async def handle() -> None:
            box.append(await work)

        await guard.run_with_reply_guarantee(handle, lambda: [], 5.0)
        return box[0]

    first, second = asyncio.run(two_turns())
    assert first == ["TimeoutError", "ClientConnectionError", "ClientConnectionError"]
    assert second == ["ok", "ok", "ok"], "the next turn tries the action server again"


def test_a_refusal_from_the_action_server_is_not_an_outage() -> None:
    import aiohttp

    class Endpoint(_FakeEndpoint):
        pass

    guard._fail_fast_after_an_outage(Endpoint)
    refusal = aiohttp.ClientResponseError(None, (), status=400)  # type: ignore[arg-type]
    endpoint = Endpoint([refusal, "answered"])

    async def turn() -> str:
        try:
            await endpoint.request()
        except aiohttp.ClientResponseError:
            pass
        return str(await endpoint.request())

    assert asyncio.run(turn()) == "answered"
