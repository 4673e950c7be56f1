"""What every channel does around Rasa: clean input, throttle floods, never stay silent.

Rasa answers nothing when the action server fails (rasa#4073) and applies no rate limit;
these helpers close both gaps for every channel the same way. The short wait for the action
server itself is an adaptation of Rasa, installed at server start (``bot.runtime``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Deque, Dict, List, Mapping, Optional

from bot.messages import message

logger = logging.getLogger(__name__)

# A long story is read to its end (docs/understanding.md); 20,000 characters is about 4,500
# tokens, 2-3 s of encoding on one core.
MAX_MESSAGE_CHARS = 20000
MAX_SENDER_CHARS = 128
EMPTY_MESSAGE_PAYLOAD = "/help"
ERROR_TOPIC = "help"


class BadRequest(ValueError):
    """The request cannot be understood; the message says what is wrong."""


def clean_text(value: Any) -> str:
    """The text Rasa should see: a string, control characters removed, length capped.

    An empty message is answered with the help menu rather than a guess.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest("'message' must be a string.")
    text = "".join(ch for ch in value if ch in "\n\t" or ch.isprintable())
    text = text.strip()[:MAX_MESSAGE_CHARS]
    return text or EMPTY_MESSAGE_PAYLOAD


def clean_sender(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("'sender' must be a non-empty string.")
    if len(value) > MAX_SENDER_CHARS:
        raise BadRequest(f"'sender' must be at most {MAX_SENDER_CHARS} characters.")
    if not value.isprintable():  # NUL, newlines, lone surrogates: no database stores them all
        raise BadRequest("'sender' must not contain control characters.")
    return value.strip()


def unavailable_reply() -> Dict[str, Any]:
    """The apology sent when the assistant could not answer, with the clinic's number."""
    return {
        "text": message("service_unavailable"),
        "custom": {"topic": ERROR_TOPIC, "error": "service_unavailable"},
    }


def has_topic(messages: List[Mapping[str, Any]]) -> bool:
    return any(isinstance(m.get("custom"), dict) and m["custom"].get("topic") for m in messages)


async def run_with_reply_guarantee(
    handle: Callable[[], Awaitable[Any]],
    sent: Callable[[], List[Mapping[str, Any]]],
    timeout: float,
) -> bool:
    """Run ``handle``; return False when it failed, timed out or sent nothing at all.

    The turn runs in an asyncio task of its own, which starts with a copy of the caller's
    context: what ``bot.runtime.action_wait`` notes in it (the action server timed out)
    stays in this turn, and the next turn tries the action server afresh.
    """
    try:
        await asyncio.wait_for(asyncio.ensure_future(handle()), timeout=timeout)
    except asyncio.TimeoutError:
        logger.error("turn not answered within %.0f s", timeout)
        return False
    except Exception as error:  # never let the person see silence
        logger.error("turn failed: %s", type(error).__name__)
        return False
    messages = sent()
    if messages and not has_topic(messages):
        logger.warning("a turn was answered without a topic (reply contract)")
    return bool(messages)


@dataclass
class RateLimiter:
    """Sliding-window limit per key (a sender id, an address)."""

    limit: int
    window_seconds: float

    def __post_init__(self) -> None:
        self._hits: Dict[str, Deque[float]] = defaultdict(deque)

    def allow(self, key: str, now: Optional[float] = None) -> bool:
        if self.limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and now - hits[0] > self.window_seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 100_000:  # bound memory under a flood of new keys
            self._hits = defaultdict(deque, {key: hits})
        return True


def limiter_from_env(prefix: str) -> RateLimiter:
    """``<PREFIX>_LIMIT`` hits per ``<PREFIX>_WINDOW`` seconds (bot/settings/environment.py)."""
    from bot.settings import get_settings

    env = get_settings().env
    return RateLimiter(int(getattr(env, f"{prefix.lower()}_limit")),
                       float(getattr(env, f"{prefix.lower()}_window")))


class RecentKeys:
    """The last ``size`` keys seen, to drop a provider's repeated delivery of one event.

    Telegram, Twilio, Messenger and Slack all retry a webhook they think failed; answering
    twice confuses people. Kept in memory: after a restart a retry may be answered again.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._keys: "OrderedDict[str, None]" = OrderedDict()

    def seen(self, key: str) -> bool:
        """True when ``key`` was seen before; otherwise remember it and return False."""
        if not key:
            return False
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return False
