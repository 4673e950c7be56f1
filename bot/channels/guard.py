"""What every channel does around Rasa: clean input, throttle floods, never stay silent.

Rasa answers nothing when the action server fails (rasa#4073) and applies no rate limit;
these helpers close both gaps for every channel the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Deque, Dict, List, Mapping, Optional

from bot.messages import message

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 5000
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
    """Run ``handle``; return False when it failed, timed out or sent nothing at all."""
    try:
        await asyncio.wait_for(handle(), timeout=timeout)
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


def limiter_from_env(prefix: str, default_limit: int, default_window: float) -> RateLimiter:
    return RateLimiter(
        int(os.environ.get(f"{prefix}_LIMIT", default_limit)),
        float(os.environ.get(f"{prefix}_WINDOW", default_window)),
    )
