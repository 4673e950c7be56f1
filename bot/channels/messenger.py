"""Facebook Messenger, on Rasa's FacebookInput with the project's safeguards.

Differences from Rasa's channel: the body must be signed with the app secret in
``X-Hub-Signature-256`` (or the legacy sha1 ``X-Hub-Signature``), compared in constant
time, and anything else gets 403 (Rasa reads only the sha1 header, lets the header choose
the hash, and answers 200). Every event of a batch is answered (Rasa stops at the first).
The subscription check (``hub.verify_token``) answers 403 on a wrong token. Buttons are
quick replies; when a title is longer than Messenger's 20 characters the options are
numbered in the text and the quick replies carry the numbers. Replies are sent with
aiohttp to the Graph Send API, so sending never blocks the server (Rasa's client uses
``requests`` inside the event loop). Each message stays within 2,000 characters.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Dict, List, Optional, Text, Union

import aiohttp
from rasa.core.channels.facebook import FacebookInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import format as fmt
from bot.channels import signatures
from bot.channels.messaging import Incoming, MessagingInput, env_url

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"


def parse_page_event(body: Dict[str, Any]) -> List[Incoming]:
    """The people's messages in a Messenger webhook batch (echoes, reads, deliveries skipped)."""
    if body.get("object") != "page":
        return []
    found: List[Incoming] = []
    for entry in body.get("entry") or []:
        for event in entry.get("messaging") or []:
            sender = str((event.get("sender") or {}).get("id") or "")
            if not sender:
                continue
            message = event.get("message")
            postback = event.get("postback")
            if isinstance(message, dict):
                if message.get("is_echo"):
                    continue
                quick = message.get("quick_reply") or {}
                text = quick.get("payload") or message.get("text") or ""
                event_id = str(message.get("mid") or "")
            elif isinstance(postback, dict):
                text = postback.get("payload") or postback.get("title") or ""
                event_id = str(postback.get("mid") or "")
            else:
                continue
            found.append(Incoming(
                sender_id=sender, text=str(text), reply_to=sender, profile="messenger",
                event_id=f"messenger:{event_id}" if event_id else "",
            ))
    return found


def send_body(recipient_id: str, reply: fmt.Reply) -> Dict[str, Any]:
    """A Send API request body: the text, and the buttons as quick replies."""
    message: Dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        message["quick_replies"] = [
            {"content_type": "text", "title": b.title, "payload": b.payload}
            for b in reply.buttons
        ]
    return {"recipient": {"id": recipient_id}, "messaging_type": "RESPONSE", "message": message}


class ClinicMessengerInput(MessagingInput, FacebookInput):
    """Rasa's Messenger channel with signature checks and the shared pipeline."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ClinicMessengerInput":
        if not credentials:
            cls.raise_missing_credentials_exception()
        assert credentials is not None
        return cls(
            fb_verify=str(credentials["verify"]),
            fb_secret=str(credentials["secret"]),
            fb_access_token=str(credentials["page-access-token"]),
            graph_url=credentials.get("graph_url"),
            turn_timeout=credentials.get("turn_timeout"),
        )

    def __init__(
        self,
        fb_verify: str,
        fb_secret: str,
        fb_access_token: str,
        graph_url: Optional[str] = None,
        turn_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(fb_verify, fb_secret, fb_access_token)
        self.graph_url = (graph_url or env_url("FB_GRAPH_URL") or DEFAULT_GRAPH_URL).rstrip("/")
        self._init_pipeline(turn_timeout)

    def add_routes(self, blueprint: Blueprint) -> None:
        @blueprint.route("/webhook", methods=["GET"])
        async def subscription_check(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode(), self.fb_verify.encode()
            ):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("Messenger subscription check with a wrong verify token")
            return response.text("wrong verify token", status=403)

    def is_authentic(self, request: Request) -> bool:
        return signatures.valid_hub_signature(
            self.fb_secret,
            request.body or b"",
            request.headers.get("X-Hub-Signature-256"),
            request.headers.get("X-Hub-Signature"),
        )

    def parse(self, request: Request) -> Union[HTTPResponse, List[Incoming]]:
        body = request.json
        if not isinstance(body, dict):
            raise ValueError("not a page event")
        return parse_page_event(body)

    async def _post(self, session: aiohttp.ClientSession, body: Dict[str, Any]) -> None:
        async with session.post(
            f"{self.graph_url}/me/messages",
            params={"access_token": self.fb_access_token},
            json=body,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as reply:
            if reply.status >= 400:
                raise RuntimeError(f"Send API answered {reply.status}")

    async def before_turn(self, incoming: Incoming) -> None:
        async with aiohttp.ClientSession() as session:
            await self._post(session, {"recipient": {"id": incoming.reply_to},
                                       "sender_action": "typing_on"})

    async def deliver(self, incoming: Incoming, replies: List[fmt.Reply]) -> None:
        async with aiohttp.ClientSession() as session:
            for reply in replies:
                await self._post(session, send_body(incoming.reply_to, reply))

