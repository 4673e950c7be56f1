"""Load a new model beside the live one, off the Rasa server's event loop.

Rasa's ``PUT /model`` loads the model inside the request handler, on the server's only
event loop: for the several seconds TensorFlow needs, no turn makes progress, and turns
that were waiting for the action server hit its time limit and get the apology. This hook
makes ``rasa.core.agent.load_agent`` (which ``PUT /model`` and start-up call) do its work
in a worker thread, so the old model keeps answering until the new one replaces it.

Installed by ``bot.runtime.install`` at server start, before Rasa loads the first model.
A set-up with an event broker or a model server keeps Rasa's own loading (their clients
belong to the event loop).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Dict

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

    @functools.wraps(original)
    async def load_agent(*args: Any, **kwargs: Any) -> Any:
        if _needs_event_loop(args, kwargs):
            return await original(*args, **kwargs)
        kwargs.pop("loop", None)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: asyncio.run(original(*args, **kwargs)))

    setattr(load_agent, _MARK, True)
    rasa_agent.load_agent = load_agent  # type: ignore[assignment]
    logger.info("models are loaded in a worker thread (bot.runtime.hotswap)")
    return True

