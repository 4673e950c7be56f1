"""A short wait for the action server, and one wait per turn at most (rasa#4073).

Rasa waits 300 s for the action server (``rasa.core.constants.DEFAULT_REQUEST_TIMEOUT``) and
then answers nothing. With this adaptation a call gives up after ``seconds`` (5 by default);
the action fails, the turn ends without a reply, and the channel sends its apology with the
clinic's phone number (``bot.channels.guard.run_with_reply_guarantee``).

One turn can call the action server several times (a booking turn: the form, then its
question). Once a call in a turn has timed out or found no server, the turn's later calls
fail at once instead of waiting again, so the apology comes after one wait. A refusal
(HTTP 400, a form rejecting an answer) is an answer, not an outage.

"In this turn" is the asyncio task's context: Sanic answers each request in a task of its
own and the channels run each turn in one more (``asyncio.wait_for``), and a task starts
with a copy of its parent's context, so what one turn learnt never reaches the next.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from contextvars import ContextVar
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_ACTION_TIMEOUT = 5.0
_MARK = "_clinic_fail_fast"

# Set in a turn's task once a call to the action server timed out or could not connect.
_unreachable_in_turn: ContextVar[bool] = ContextVar("action_server_unreachable", default=False)


def install(seconds: float = DEFAULT_ACTION_TIMEOUT) -> bool:
    """Make Rasa give up on the action server after ``seconds``; True if it wrapped the call.

    Rasa reads ``DEFAULT_REQUEST_TIMEOUT`` from these two modules' globals at each call
    (the session's total timeout and the action request's own), so setting them before the
    server answers its first message is enough.
    """
    import rasa.core.actions.action as rasa_action
    import rasa.utils.endpoints as rasa_endpoints

    rasa_endpoints.DEFAULT_REQUEST_TIMEOUT = seconds  # type: ignore[attr-defined]
    rasa_action.DEFAULT_REQUEST_TIMEOUT = seconds  # type: ignore[attr-defined]
    logger.info("action server calls time out after %.1f s", seconds)
    return fail_fast_after_an_outage(rasa_endpoints.EndpointConfig)


def fail_fast_after_an_outage(endpoint_class: Any) -> bool:
    """Wrap ``endpoint_class.request`` once (see the module's docstring); True if it did."""
    import aiohttp

    original = endpoint_class.request
    if getattr(original, _MARK, False):
        return False

    @functools.wraps(original)
    async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _unreachable_in_turn.get():
            raise aiohttp.ClientConnectionError("the action server failed earlier in this turn")
        try:
            return await original(self, *args, **kwargs)
        except (asyncio.TimeoutError, aiohttp.ClientConnectionError):
            _unreachable_in_turn.set(True)
            raise

    setattr(request, _MARK, True)
    endpoint_class.request = request
    return True
