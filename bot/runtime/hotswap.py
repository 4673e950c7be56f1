"""Load a new model beside the live one, off the Rasa server's event loop.

Rasa's ``PUT /model`` loads the model inside the request handler, on the server's only
event loop: for the several seconds TensorFlow needs, no turn makes progress, and turns
that were waiting for the action server hit its time limit and get the apology. This hook
makes ``rasa.core.agent.load_agent`` (which ``PUT /model`` and start-up call) do its work
in a worker thread, so the old model keeps answering until the new one replaces it.

Turn it on by listing the do-nothing channel below in ``credentials.yml`` (Rasa creates
channels at start-up, in the server process, before it loads the first model)::

    bot.staff.hotswap.ModelSwapHook: {}

A set-up with an event broker or a model server keeps Rasa's own loading (their clients
belong to the event loop).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

_MARK = "_staff_threaded_load"


def _needs_event_loop(args: Any, kwargs: Dict[str, Any]) -> bool:
    endpoints = kwargs.get("endpoints")
    if endpoints is None and len(args) > 3:
        endpoints = args[3]
    return bool(kwargs.get("model_server") or kwargs.get("remote_storage")
                or (endpoints is not None and (getattr(endpoints, "event_broker", None)
                                               or getattr(endpoints, "model", None))))


def install() -> bool:
    """Wrap ``rasa.core.agent.load_agent`` once; True if this call installed it."""
    import rasa.core.agent as rasa_agent

    original = rasa_agent.load_agent
    if getattr(original, _MARK, False):
        return False

    async def load_agent(*args: Any, **kwargs: Any) -> Any:
        if _needs_event_loop(args, kwargs):
            return await original(*args, **kwargs)
        kwargs.pop("loop", None)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: asyncio.run(original(*args, **kwargs)))

    setattr(load_agent, _MARK, True)
    rasa_agent.load_agent = load_agent  # type: ignore[assignment]
    logger.info("models are loaded in a worker thread (bot.staff.hotswap)")
    return True


class ModelSwapHook(InputChannel):
    """Not a channel people use: listed in credentials.yml only to run ``install()``."""

    @classmethod
    def name(cls) -> Text:
        return "staff_model_swap"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ModelSwapHook":
        return cls()

    def __init__(self) -> None:
        install()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("staff_model_swap", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "threaded_model_loading": True})

        return hook
