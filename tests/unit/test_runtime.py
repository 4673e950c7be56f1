"""``bot.runtime`` against the pinned Rasa (3.6.21).

For each adaptation: the Rasa internal it patches is there, with the signature and the use
it relies on (a test named ``test_rasa_...`` fails when an upgrade changes it), and after
``install()`` the behaviour is the adapted one. The other tests of the pieces stay beside
them: test_runtime_action_validation.py, test_runtime_tracker_store.py,
tests/e2e/test_prod_locks.py (the lock store), tests/e2e/test_hardening_*.py.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import subprocess
import sys
import threading
import time
from argparse import Namespace
from typing import Any, Callable, Dict, Iterator, List, Tuple

import aiohttp
import pytest
import rasa.core.actions.action as rasa_action
import rasa.core.agent as rasa_agent
import rasa.core.processor as rasa_processor
import rasa.server
import rasa.utils.endpoints as rasa_endpoints
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.exceptions import RasaException

import bot.runtime
from bot.channels import guard
from bot.runtime import action_wait, banner, graph_runner, hotswap, start, tracker_store
from bot.settings import PROJECT_ROOT

# Everything bot.runtime.install() changes, as (owner, attribute).
PATCHED: List[Tuple[Any, str]] = [
    (rasa_endpoints, "DEFAULT_REQUEST_TIMEOUT"), (rasa_action, "DEFAULT_REQUEST_TIMEOUT"),
    (rasa_endpoints.EndpointConfig, "request"), (RemoteAction, "_validate_action_result"),
    (rasa_agent, "FailSafeTrackerStore"), (rasa_agent, "load_agent"),
    (rasa.server, "add_root_route"), (rasa_processor, "DaskGraphRunner"),
]


@pytest.fixture()
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put back every attribute the runtime patches once the test is over."""
    for owner, name in PATCHED:
        monkeypatch.setattr(owner, name, getattr(owner, name))


def parameters(function: Callable[..., Any]) -> List[str]:
    """The parameter names of Rasa's own function (under any wrapper of ours)."""
    return list(inspect.signature(inspect.unwrap(function)).parameters)


def source(function: Callable[..., Any]) -> str:
    return inspect.getsource(inspect.unwrap(function))


# -- the hook --------------------------------------------------------------------------------


def test_install_adapts_everything_once(restored: None) -> None:
    first = bot.runtime.install(4.0)
    assert first == ["action_wait", "action_validation", "tracker_store", "hotswap", "banner",
                     "graph_runner"]
    assert bot.runtime.install(4.0) == [], "idempotent: nothing is wrapped twice"
    assert rasa_endpoints.EndpointConfig.request._clinic_fail_fast
    assert RemoteAction._validate_action_result._clinic_cached_validation
    assert rasa_agent.FailSafeTrackerStore is tracker_store.StrictFailSafeTrackerStore
    assert rasa_agent.load_agent._staff_threaded_load
    assert rasa.server.add_root_route._clinic_quiet
    assert rasa_processor.DaskGraphRunner is graph_runner.SequentialGraphRunner


def test_rasa_cli_calls_the_plugin_hook_before_the_command() -> None:
    import rasa.__main__
    import rasa.plugin

    assert parameters(rasa.plugin.configure_commandline) == ["cmdline_arguments"]
    main = source(rasa.__main__.main)
    assert main.index("hook.configure_commandline(") < main.index("cmdline_arguments.func(")


def test_only_the_commands_that_serve_install_the_runtime() -> None:
    from rasa.__main__ import create_argument_parser

    parser = create_argument_parser()

    def serves(*argv: str) -> bool:
        return start.serves_the_assistant(parser.parse_args(list(argv)))

    assert serves("run") and serves("run", "--credentials", "x.yml") and serves("shell")
    assert not serves("run", "actions") and not serves("train") and not serves("data", "validate")
    assert not start.serves_the_assistant(Namespace())


def test_starting_rasa_through_bot_run_installs_the_runtime_first(tmp_path: Any) -> None:
    """The real chain, in a process of its own: bot.run -> Rasa's CLI -> hook -> install.

    Importing the runtime's modules first changes nothing (nothing is done at import time).
    """
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("bot.channels.rest.ClinicRestInput:\n  turn_timeout: 10\n"
                           "  action_timeout: 3\n", encoding="utf-8")
    code = f"""
import json, sys
import rasa.cli.run
import rasa.core.actions.action as r, rasa.core.agent as a, rasa.server as s
import rasa.utils.endpoints as e

def state():
    return (a.load_agent, a.FailSafeTrackerStore, s.add_root_route, e.EndpointConfig.request,
            e.DEFAULT_REQUEST_TIMEOUT, r.DEFAULT_REQUEST_TIMEOUT,
            r.RemoteAction._validate_action_result)

before = state()
import bot.runtime.action_wait, bot.runtime.action_validation, bot.runtime.banner
import bot.runtime.hotswap, bot.runtime.locks, bot.runtime.start, bot.runtime.tracker_store
import bot.run
assert before == state(), "changed at import time"

def run(args):  # stands in for `rasa run` (same module and name): report what it finds
    import rasa.core.actions.action as action, rasa.core.agent as agent, rasa.server as server
    print(json.dumps({{
        "timeout": action.DEFAULT_REQUEST_TIMEOUT,
        "strict": agent.FailSafeTrackerStore.__name__,
        "threaded": bool(getattr(agent.load_agent, "_staff_threaded_load", False)),
        "quiet": bool(getattr(server.add_root_route, "_clinic_quiet", False)),
        "validation": bool(getattr(action.RemoteAction._validate_action_result,
                                   "_clinic_cached_validation", False)),
    }}))

run.__module__ = "rasa.cli.run"
rasa.cli.run.run = run
from bot.run import main
main(["rasa", "run", "--credentials", {str(credentials)!r}])
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"timeout": 3.0, "strict": "StrictFailSafeTrackerStore", "threaded": True,
                     "quiet": True, "validation": True}


def test_the_hook_takes_the_wait_from_the_credentials_rasa_will_read(
    restored: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTION_TIMEOUT", raising=False)
    seen: List[Any] = []

    def wait(path: Any) -> float:
        seen.append(path)
        return 4.5

    import rasa.cli.run

    plugin = start.InstallAtServerStart(wait)

    assert plugin.configure_commandline(Namespace(func=rasa.cli.run.run_actions)) is None
    assert seen == [] and rasa_action.DEFAULT_REQUEST_TIMEOUT != 4.5
    credentials = str(PROJECT_ROOT / "credentials.yml")
    assert plugin.configure_commandline(Namespace(func=rasa.cli.run.run,
                                                  credentials=credentials)) is None
    assert seen == [credentials] and rasa_action.DEFAULT_REQUEST_TIMEOUT == 4.5
    monkeypatch.chdir(tmp_path)  # no credentials.yml where Rasa would look by default
    plugin.configure_commandline(Namespace(func=rasa.cli.run.run, credentials=None))
    assert seen[-1] is None


def test_the_plugin_is_registered_once() -> None:
    from rasa.plugin import plugin_manager

    assert not plugin_manager().has_plugin(start.PLUGIN_NAME)
    assert start.register(lambda _path: 5.0)
    assert not start.register(lambda _path: 5.0)
    assert plugin_manager().has_plugin(start.PLUGIN_NAME)


# -- action_wait: a short wait, one wait per turn ----------------------------------------------


def test_rasa_reads_the_action_wait_from_module_globals_at_each_call() -> None:
    assert isinstance(rasa_endpoints.DEFAULT_REQUEST_TIMEOUT, (int, float))
    assert isinstance(rasa_action.DEFAULT_REQUEST_TIMEOUT, (int, float))
    assert "ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT)" in source(
        rasa_endpoints.EndpointConfig.session)
    run = source(RemoteAction.run)
    assert "self.action_endpoint.request(" in run and "timeout=DEFAULT_REQUEST_TIMEOUT" in run
    assert "except aiohttp.ClientConnectionError" in run  # a failed call fails the action
    assert inspect.iscoroutinefunction(inspect.unwrap(rasa_endpoints.EndpointConfig.request))
    assert parameters(rasa_endpoints.EndpointConfig.request) == [
        "self", "method", "subpath", "content_type", "compress", "kwargs"]


def test_the_action_server_wait_is_set_where_rasa_reads_it(restored: None) -> None:
    action_wait.install(4.0)
    assert rasa_endpoints.DEFAULT_REQUEST_TIMEOUT == 4.0
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 4.0

    async def session_timeout() -> float:
        async with rasa_endpoints.EndpointConfig("http://127.0.0.1:1/webhook").session() as s:
            return float(s.timeout.total)

    assert asyncio.run(session_timeout()) == 4.0


def test_after_install_a_turn_tries_a_missing_action_server_once(restored: None) -> None:
    """Rasa's own RemoteAction, an action server that is not there: one try per turn."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.deploy.serve import free_port

    calls: List[str] = []
    original = rasa_endpoints.EndpointConfig.request

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("tried")  # a real attempt to reach the action server
        return await original(self, *args, **kwargs)

    rasa_endpoints.EndpointConfig.request = counted  # type: ignore[method-assign]
    bot.runtime.install(2.0)  # wraps the counted request (put back by `restored`)
    endpoint = rasa_endpoints.EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook")
    action = RemoteAction("action_answer", endpoint)
    domain = Domain.empty()

    async def run_action() -> str:
        try:
            await action.run(CollectingOutputChannel(), None,  # type: ignore[arg-type]
                             DialogueStateTracker("t", []), domain)
        except RasaException:
            return "failed"
        return "ran"

    results: List[List[str]] = []

    async def handle() -> None:
        results.append([await run_action(), await run_action()])

    asyncio.run(guard.run_with_reply_guarantee(handle, lambda: [], 10.0))
    assert results == [["failed", "failed"]] and calls == ["tried"]
    asyncio.run(guard.run_with_reply_guarantee(handle, lambda: [], 10.0))
    assert calls == ["tried", "tried"], "the next turn tries the action server again"


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
    class Endpoint(_FakeEndpoint):
        pass

    assert action_wait.fail_fast_after_an_outage(Endpoint)
    assert not action_wait.fail_fast_after_an_outage(Endpoint)  # idempotent: wrapped once

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
    class Endpoint(_FakeEndpoint):
        pass

    action_wait.fail_fast_after_an_outage(Endpoint)
    refusal = aiohttp.ClientResponseError(None, (), status=400)  # type: ignore[arg-type]
    endpoint = Endpoint([refusal, "answered"])

    async def turn() -> str:
        try:
            await endpoint.request()
        except aiohttp.ClientResponseError:
            pass
        return str(await endpoint.request())

    assert asyncio.run(turn()) == "answered"


# -- action_validation: a validator built once ---------------------------------------------------


def test_rasa_validates_each_action_reply_with_the_replaced_method() -> None:
    assert parameters(RemoteAction._validate_action_result) == ["self", "result"]
    assert isinstance(RemoteAction.action_response_format_spec(), dict)
    assert "self._validate_action_result(response)" in source(RemoteAction.run)
    # the replacement gives Rasa's verdicts: test_runtime_action_validation.py


# -- tracker_store: no silent fall-back to memory --------------------------------------------------


def test_rasa_wraps_the_agents_store_in_the_module_global_wrapper() -> None:
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore

    assert "FailSafeTrackerStore(tracker_store)" in source(Agent._create_tracker_store)
    assert parameters(FailSafeTrackerStore.__init__) == [
        "self", "tracker_store", "on_tracker_store_error", "fallback_tracker_store"]
    # StrictSQLTrackerStore passes these on by position
    assert parameters(SQLTrackerStore.__init__) == [
        "self", "domain", "dialect", "host", "port", "db", "username", "password",
        "event_broker", "login_db", "query", "kwargs"]
    for name in ("_additional_events", "session_scope", "stream_events", "retrieve", "save",
                 "SQLEvent"):
        assert hasattr(SQLTrackerStore, name), name
    assert parameters(SQLTrackerStore._additional_events) == ["self", "session", "tracker"]


def test_after_install_the_agent_fails_loudly_instead_of_forgetting(restored: None) -> None:
    memory = InMemoryTrackerStore(Domain.empty())
    assert not isinstance(Agent._create_tracker_store(memory, Domain.empty()),
                          tracker_store.StrictFailSafeTrackerStore)
    assert tracker_store.install() and not tracker_store.install()
    assert isinstance(Agent._create_tracker_store(memory, Domain.empty()),
                      tracker_store.StrictFailSafeTrackerStore)
    # the strict behaviour itself: test_runtime_tracker_store.py


def test_the_strict_store_refuses_to_start_without_the_runtime(
    restored: None, tmp_path: Any
) -> None:
    """Not Rasa's silent memory store: its loader passes this error on (3.6 falls back to
    memory only on an ImportError or AttributeError)."""
    from rasa.core.tracker_store import TrackerStore

    from bot.deploy.endpoints import tracker_store_config

    rasa_agent.FailSafeTrackerStore = tracker_store.FailSafeTrackerStore  # type: ignore[misc]
    config = tracker_store_config(f"sqlite:///{tmp_path / 'refused.db'}")
    with pytest.raises(tracker_store.RuntimeNotInstalled):
        TrackerStore.create(rasa_endpoints.EndpointConfig(**config), Domain.empty())


# -- locks: one ticket lock across replicas (behaviour: tests/e2e/test_prod_locks.py) ------------


def test_rasa_lock_store_as_the_atomic_store_relies_on() -> None:
    from rasa.core.lock import Ticket, TicketLock
    from rasa.core.lock_store import LOCK_LIFETIME, LockStore, RedisLockStore

    from bot.runtime.locks import AtomicRedisLockStore

    assert isinstance(LOCK_LIFETIME, (int, float))
    assert {"host", "port", "db", "password", "key_prefix"} <= set(
        parameters(RedisLockStore.__init__))
    assert parameters(LockStore.issue_ticket) == ["self", "conversation_id", "lock_lifetime"]
    assert parameters(LockStore.update_lock) == ["self", "conversation_id"]
    assert parameters(LockStore.finish_serving) == ["self", "conversation_id", "ticket_number"]
    assert parameters(LockStore.cleanup) == ["self", "conversation_id", "ticket_number"]
    assert parameters(LockStore.lock) == [
        "self", "conversation_id", "lock_lifetime", "wait_time_in_seconds"]
    for name in ("from_dict", "issue_ticket", "remove_ticket_for", "remove_expired_tickets",
                 "is_someone_waiting"):
        assert hasattr(TicketLock, name), name
    assert hasattr(Ticket, "dumps")
    # Rasa builds a custom lock store from endpoints.yml with the endpoint config
    store = LockStore.create(rasa_endpoints.EndpointConfig(
        url="127.0.0.1", port=6379, db=0, key_prefix="clinic",
        type="bot.runtime.locks.AtomicRedisLockStore"))
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix.endswith("lock:")  # the owner keys are made from it


# -- hotswap: models loaded off the event loop ------------------------------------------------------


def test_rasa_loads_models_through_the_module_function() -> None:
    import rasa.core.run
    from rasa.core.utils import AvailableEndpoints

    assert parameters(rasa_agent.load_agent) == [
        "model_path", "model_server", "remote_storage", "endpoints", "loop"]
    assert "agent.load_agent(" in source(rasa.core.run.load_agent_on_start)
    assert "rasa.core.agent.load_agent(" in source(rasa.server._load_agent)
    endpoints = AvailableEndpoints()
    assert hasattr(endpoints, "event_broker") and hasattr(endpoints, "model")


def test_the_swap_hook_loads_models_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: Dict[str, Any] = {}

    async def slow_original(**kwargs: Any) -> str:
        seen["thread"] = threading.current_thread() is not threading.main_thread()
        time.sleep(0.3)  # a blocking load, as TensorFlow's is
        return "agent"

    monkeypatch.setattr(rasa_agent, "load_agent", slow_original)
    assert hotswap.install() and not hotswap.install()

    async def main() -> Tuple[Any, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(ticker())
        agent = await rasa_agent.load_agent(model_path="m.tar.gz", endpoints=None)
        task.cancel()
        return agent, ticks

    agent, ticks = asyncio.run(main())
    assert agent == "agent" and seen["thread"]
    assert ticks >= 10  # the event loop kept running during the load


# -- banner: no version on GET / ---------------------------------------------------------------------


def test_rasa_adds_its_root_route_through_the_module_function() -> None:
    import rasa.core.run

    assert parameters(rasa.server.add_root_route) == ["app"]
    assert "server.add_root_route(app)" in source(rasa.core.run._create_app_without_api)
    assert "add_root_route(app)" in source(rasa.server.create_app)


class _RecordingApp:
    def __init__(self) -> None:
        self.routes: Dict[str, Any] = {}
        self.middlewares: List[Any] = []

    def get(self, path: str) -> Callable[[Any], Any]:
        def register(handler: Any) -> Any:
            self.routes[path] = handler
            return handler

        return register

    def middleware(self, _kind: str) -> Callable[[Any], Any]:
        def register(handler: Any) -> Any:
            self.middlewares.append(handler)
            return handler

        return register


def test_after_install_the_root_route_names_no_version(restored: None) -> None:
    from types import SimpleNamespace

    assert banner.install() and not banner.install()
    app = _RecordingApp()
    rasa.server.add_root_route(app)
    root = asyncio.run(app.routes["/"](None))
    assert json.loads(root.body) == {"status": "ok"}
    (no_version,) = app.middlewares
    assert asyncio.run(no_version(SimpleNamespace(path="/version"))).status == 404
    assert asyncio.run(no_version(SimpleNamespace(path="/webhooks/rest/"))) is None


@pytest.fixture(autouse=True)
def _no_leftover_plugin() -> Iterator[None]:
    yield
    from rasa.plugin import plugin_manager

    if plugin_manager().has_plugin(start.PLUGIN_NAME):
        plugin_manager().unregister(name=start.PLUGIN_NAME)


# -- graph_runner: the prediction graph in a precomputed order --------------------------------


def test_rasa_processor_loads_models_with_the_runner_named_in_its_module() -> None:
    from rasa.engine.runner.dask import DaskGraphRunner

    assert rasa_processor.DaskGraphRunner is DaskGraphRunner or (
        rasa_processor.DaskGraphRunner is graph_runner.SequentialGraphRunner)
    assert "DaskGraphRunner" in source(rasa_processor.MessageProcessor._load_model)
    assert parameters(DaskGraphRunner.run) == ["self", "inputs", "targets"]
    assert {"_graph_schema", "_instantiated_nodes"} <= set(
        re.findall(r"self\.(\w+)", inspect.getsource(DaskGraphRunner.__init__)))


def test_run_order_puts_each_node_after_what_it_needs() -> None:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.graph import GraphSchema, SchemaNode

    def node(**needs: str) -> SchemaNode:
        return SchemaNode(needs=needs, uses=object, constructor_name="create", fn="process",
                          config={})

    schema = GraphSchema({"a": node(x="__message__"), "b": node(x="a"), "c": node(x="a", y="b"),
                          "unused": node(x="c")})
    assert graph_runner.run_order(schema, ["c"]) == ["__message__", "a", "b", "c"]
    looped = GraphSchema({"a": node(x="b"), "b": node(x="a")})
    with pytest.raises(GraphRunError, match="cycle"):
        graph_runner.run_order(looped, ["a"])


@pytest.mark.skipif(not (PROJECT_ROOT / "models" / "current.tar.gz").exists(),
                    reason="needs the trained model (make train)")
def test_the_sequential_runner_gives_the_same_parse_and_prediction_as_dask() -> None:
    """The trained model's NLU and policy graphs, run both ways, give equal results."""
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    agent = Agent.load(str(PROJECT_ROOT / "models" / "current.tar.gz"))
    processor = agent.processor
    dask_runner = processor.graph_runner
    sequential = object.__new__(graph_runner.SequentialGraphRunner)
    sequential.__dict__.update(dask_runner.__dict__, _orders={})
    nlu, core = processor.model_metadata.nlu_target, processor.model_metadata.core_target
    tracker = DialogueStateTracker.from_events("graph-runner", [], slots=agent.domain.slots)
    for text in ("what is the gut brain axis", "which probiotic strains were studied",
                 "I want to end my life", "book an appointment", "what's the weather"):
        parsed = [runner.run(inputs={"__message__": [UserMessage(text, sender_id="graph-runner")],
                                     "__tracker__": tracker}, targets=[nlu])[nlu][0].as_dict(
                      only_output_properties=True)
                  for runner in (dask_runner, sequential)]
        for one in parsed:
            one.pop("message_id", None)  # each message has its own
        assert parsed[0] == parsed[1], text
    predictions = [runner.run(inputs={"__tracker__": tracker}, targets=[core])[core]
                   for runner in (dask_runner, sequential)]
    assert predictions[0].probabilities == predictions[1].probabilities
    assert predictions[0].policy_name == predictions[1].policy_name
