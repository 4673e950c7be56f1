"""Slack, on Rasa's SlackInput with the project's safeguards.

Rasa's channel already checks ``X-Slack-Signature`` with the signing secret and refuses
requests older than five minutes; this one does the same check (bot/channels/signatures.py)
but answers 403 instead of 400, and answers Slack's ``url_verification`` with the challenge
as plain text (Rasa sends it as a JSON string, which Slack's documented formats do not
include). The assistant answers direct messages and @mentions (in a thread); a mention also
arrives as a channel ``message`` event, which is not answered twice. Button taps come back
as form-encoded ``block_actions``. Texts are escaped for Slack's mrkdwn (so ``<!channel>``
typed into a booking name cannot ping anyone) and links made clickable. Each section block
stays within 3,000 characters.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Text, Union

from rasa.core.channels.slack import SlackInput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels import format as fmt
from bot.channels import signatures
from bot.channels.messaging import Incoming, MessagingInput, env_url

logger = logging.getLogger(__name__)

SECTION_LIMIT = 3000
BUTTON_LABEL_LIMIT = 75
_URL = re.compile(r"https?://[^\s<>|]+")


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as markup, then make URLs links."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def link(match: "re.Match[str]") -> str:
        url = match.group(0)
        trimmed = url.rstrip(".,;:!?)]'\"")
        return f"<{trimmed}>{url[len(trimmed):]}"

    return _URL.sub(link, escaped)


def unescape_incoming(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def post_arguments(reply: fmt.Reply) -> Dict[str, Any]:
    """chat.postMessage arguments: mrkdwn sections, then the buttons as an actions block."""
    text = escape_mrkdwn(reply.text)
    blocks: List[Dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in fmt.split_text(text, SECTION_LIMIT)
    ]
    if reply.buttons:
        blocks.append({
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"option-{index}",
                    "text": {"type": "plain_text", "text": b.title[:BUTTON_LABEL_LIMIT]},
                    "value": b.payload,
                }
                for index, b in enumerate(reply.buttons, start=1)
            ],
        })
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


class ClinicSlackInput(MessagingInput, SlackInput):
    """Rasa's Slack channel with a 403 on bad signatures and the shared pipeline."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ClinicSlackInput":
        if not credentials:
            cls.raise_missing_credentials_exception()
        assert credentials is not None
        return cls(
            slack_token=str(credentials["slack_token"]),
            slack_signing_secret=str(credentials.get("slack_signing_secret") or ""),
            conversation_granularity=str(credentials.get("conversation_granularity")
                                         or "sender"),
            api_url=credentials.get("api_url"),
            turn_timeout=credentials.get("turn_timeout"),
        )

    def __init__(
        self,
        slack_token: str,
        slack_signing_secret: str,
        conversation_granularity: str = "sender",
        api_url: Optional[str] = None,
        turn_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(
            slack_token,
            slack_signing_secret=slack_signing_secret,
            conversation_granularity=conversation_granularity,
        )
        self.api_url = api_url or env_url("SLACK_API_URL")
        self._client: Optional[AsyncWebClient] = None
        self._init_pipeline(turn_timeout)

    @property
    def client(self) -> AsyncWebClient:
        if self._client is None:
            kwargs: Dict[str, Any] = {"token": self.slack_token, "timeout": 10}
            if self.api_url:
                kwargs["base_url"] = self.api_url.rstrip("/") + "/"
            self._client = AsyncWebClient(**kwargs)
        return self._client

    def is_authentic(self, request: Request) -> bool:
        return signatures.valid_slack(
            self.slack_signing_secret,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.body or b"",
            request.headers.get("X-Slack-Signature"),
        )

    def parse(self, request: Request) -> Union[HTTPResponse, List[Incoming]]:
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
        if content_type == "application/x-www-form-urlencoded":
            payload = json.loads(request.form.get("payload") or "{}")
            incoming = self.parse_interaction(payload)
            return [incoming] if incoming else []
        body = request.json
        if not isinstance(body, dict):
            raise ValueError("not a Slack event")
        if body.get("type") == "url_verification":
            return response.text(str(body.get("challenge") or ""))
        incoming = self.parse_event(body)
        return [incoming] if incoming else []

    def parse_event(self, body: Dict[str, Any]) -> Optional[Incoming]:
        """A direct message or an @mention in an ``event_callback``; None for anything else."""
        if body.get("type") != "event_callback":
            return None
        event = body.get("event") or {}
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return None
        kind = event.get("type")
        direct = kind == "message" and event.get("channel_type") == "im"
        if not (direct or kind == "app_mention"):
            return None
        bot_users = list(body.get("authed_users") or [])
        bot_users += [a.get("user_id") for a in body.get("authorizations") or [] if a.get("user_id")]
        text = unescape_incoming(self._sanitize_user_message(str(event.get("text") or ""),
                                                             bot_users))
        channel = str(event.get("channel") or "")
        thread = event.get("thread_ts") or (None if direct else event.get("ts"))
        sender = self._get_conversation_id(str(event["user"]), channel, thread) or event["user"]
        return Incoming(
            sender_id=str(sender), text=text, reply_to=channel, profile="slack",
            event_id=f"slack:{body.get('event_id') or event.get('client_msg_id') or ''}"
            if (body.get("event_id") or event.get("client_msg_id")) else "",
            extra={"thread_ts": str(thread)} if thread else {},
        )

    def parse_interaction(self, payload: Dict[str, Any]) -> Optional[Incoming]:
        """A button tap (``block_actions``); None for other interactions."""
        if not self._is_interactive_message(payload):
            return None
        text = self._get_interactive_response(payload["actions"][0])
        user = (payload.get("user") or {}).get("id")
        channel = (payload.get("channel") or {}).get("id") or ""
        if text is None or not user:
            return None
        thread = (payload.get("container") or {}).get("thread_ts") or (
            payload.get("message") or {}).get("thread_ts")
        sender = self._get_conversation_id(str(user), channel, thread) or user
        trigger = payload.get("trigger_id") or ""
        return Incoming(
            sender_id=str(sender), text=str(text), reply_to=str(channel), profile="slack",
            event_id=f"slack:{trigger}" if trigger else "",
            extra={"thread_ts": str(thread)} if thread else {},
        )

    async def deliver(self, incoming: Incoming, replies: List[fmt.Reply]) -> None:
        thread = incoming.extra.get("thread_ts")
        for reply in replies:
            arguments = post_arguments(reply)
            if thread:
                arguments["thread_ts"] = thread
            await self.client.chat_postMessage(channel=incoming.reply_to, **arguments)
