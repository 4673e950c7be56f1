"""The REST channel (``/webhooks/rest/webhook``) with the project's safeguards.

Same request and reply format as Rasa's RestInput, plus: input validated with a clear
400, a per-sender and per-address rate limit, a turn time limit, and an apology with the
clinic's phone number whenever the turn produced no reply (rasa#4073). This channel's
entry in credentials.yml also says how long Rasa waits for the action server
(``action_timeout``, or ``ACTION_TIMEOUT``; Rasa's own is 300 s): :func:`action_wait`, which
the server start applies (``bot.run``, ``bot.runtime``).
User text is never logged. ``GET /webhooks/rest/`` answers 503 if Rasa fell back to
keeping conversations in memory (it does so silently when a tracker store cannot be
loaded).

Turns come only from the clinic's pages: the body must be ``application/json`` (anything
else gets 415), which makes a browser on another site send a CORS preflight first, and a
request whose ``Origin`` is not among the allowed origins (``CORS_ORIGINS``, the list Rasa's
``--cors`` gets) is refused with 403. Both are refused before the turn, so nothing of such
a request is stored. Requests without an ``Origin`` (servers, tests, curl) work as before.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

import yaml
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import guard, identity
from bot.channels.metadata import keep_allowed, rest_keys
from bot.settings import get_settings
from bot.settings.origins import allowed_origins

logger = logging.getLogger(__name__)

DEFAULT_TURN_TIMEOUT = 10.0
# Rasa waits 300 s for the action server (rasa.core.constants.DEFAULT_REQUEST_TIMEOUT);
# the person should hear back long before the turn's own time limit.
DEFAULT_ACTION_TIMEOUT = 5.0


def action_wait(credentials: Optional[Mapping[str, Any]]) -> float:
    """Seconds Rasa should wait for the action server, from this channel's credentials.

    ``action_timeout``, else ``ACTION_TIMEOUT``, else 5 s; a wait not below the turn limit
    (``turn_timeout``) is cut to half the turn, so the apology still comes within the turn.
    """
    credentials = credentials or {}
    action_timeout = float(credentials.get("action_timeout") or get_settings().env.action_timeout
                           or DEFAULT_ACTION_TIMEOUT)
    turn_timeout = float(credentials.get("turn_timeout") or DEFAULT_TURN_TIMEOUT)
    if action_timeout >= turn_timeout:
        logger.warning("action_timeout %.1f s is not below turn_timeout %.1f s; using %.1f s",
                       action_timeout, turn_timeout, turn_timeout / 2)
        action_timeout = turn_timeout / 2
    return action_timeout


def action_wait_from_file(credentials_file: Optional[str]) -> float:
    """:func:`action_wait` for this channel's entry in a credentials file (or none)."""
    entry: Any = None
    if credentials_file:
        with open(credentials_file, encoding="utf-8") as handle:
            entries = yaml.safe_load(handle) or {}
        entry = entries.get(f"{ClinicRestInput.__module__}.{ClinicRestInput.__qualname__}")
    return action_wait(entry if isinstance(entry, dict) else None)


def _conversations_in_memory(request: Request) -> bool:
    """True when the agent's tracker store is Rasa's in-memory fall-back."""
    from rasa.core.tracker_store import InMemoryTrackerStore

    store = getattr(getattr(getattr(request.app, "ctx", None), "agent", None),
                    "tracker_store", None)
    inner = getattr(store, "_tracker_store", store)  # unwrap FailSafeTrackerStore
    return isinstance(inner, InMemoryTrackerStore)


class ClinicRestInput(InputChannel):
    """Rasa's REST channel, hardened."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ClinicRestInput":
        credentials = credentials or {}
        return cls(
            turn_timeout=float(credentials.get("turn_timeout") or DEFAULT_TURN_TIMEOUT),
            origins=credentials.get("allowed_origins") or allowed_origins(),
        )

    def __init__(
        self,
        turn_timeout: float = DEFAULT_TURN_TIMEOUT,
        origins: Optional[List[str]] = None,
    ) -> None:
        self.turn_timeout = turn_timeout
        self.origins = frozenset(allowed_origins() if origins is None else origins)
        self.per_sender = guard.limiter_from_env("RATE_LIMIT_SENDER")
        self.per_address = guard.limiter_from_env("RATE_LIMIT_ADDRESS")
        self.metadata_keys = rest_keys()

    @staticmethod
    def _address(request: Request) -> str:
        if get_settings().env.trust_proxy_headers:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[0].strip()
        return str(request.ip or "unknown")

    def _refusal(self, request: Request) -> Optional[HTTPResponse]:
        """403 for a browser on a page of another site, 415 for a body that is not JSON."""
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.origins:
            logger.warning("refused a turn sent from a page on another site")
            return response.json(
                {"error": "Messages are accepted only from the clinic's own pages."}, status=403
            )
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return response.json(
                {"error": "Send the message as JSON (Content-Type: application/json)."},
                status=415,
            )
        return None

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = Blueprint("clinic_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if _conversations_in_memory(request):
                return response.json(
                    {"status": "unavailable",
                     "error": "conversations are kept in memory only; check endpoints.yml"},
                    status=503,
                )
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refused = self._refusal(request)
            if refused is not None:
                return refused
            try:
                body = request.json
            except Exception:  # Sanic raises on malformed JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "Send a JSON object with 'sender' and 'message'."},
                                     status=400)
            try:
                sender = guard.clean_sender(body.get("sender"))
                text = guard.clean_text(body.get("message"))
            except guard.BadRequest as error:
                return response.json({"error": str(error)}, status=400)
            if identity.is_channel_id(sender):
                return response.json(
                    {"error": "This sender id is reserved for a messaging channel's "
                              "conversations; choose another."}, status=400)
            if not (self.per_address.allow(self._address(request))
                    and self.per_sender.allow(sender)):
                return response.json(
                    {"error": "Too many messages; please wait a few seconds."}, status=429
                )
            # only the allow-listed keys are stored (bot.channels.metadata)
            metadata = keep_allowed(body.get("metadata"), self.metadata_keys)
            collector = CollectingOutputChannel()
            user_message = UserMessage(
                text, collector, sender, input_channel=self.name(), metadata=metadata
            )
            answered = await guard.run_with_reply_guarantee(
                lambda: on_new_message(user_message), lambda: collector.messages,
                self.turn_timeout,
            )
            messages = list(collector.messages)
            if not answered:
                messages.append({"recipient_id": sender, **guard.unavailable_reply()})
            return response.json(messages)

        return webhook
