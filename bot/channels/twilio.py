"""SMS and WhatsApp through Twilio, on Rasa's TwilioInput with the project's safeguards.

Differences from Rasa's channel: every request must carry a valid ``X-Twilio-Signature``
(403 otherwise; Rasa checks nothing). Buttons become a numbered list and a reply of "2"
picks option 2. Replies go out through Twilio's asynchronous client, so sending never
blocks the server, from the number the person wrote to (the signed ``To``), which is the
SMS number for SMS and ``whatsapp:+1...`` for WhatsApp. Each message stays within 1,600
characters, split at sentence ends.

The signature covers the URL Twilio called. Behind a proxy or tunnel that URL is not the
one the server sees: set ``TWILIO_WEBHOOK_URL`` to the exact URL in the Twilio console (or
``TRUST_PROXY_HEADERS=1`` to rebuild it from ``X-Forwarded-Proto``/``X-Forwarded-Host``).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple, Union
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from rasa.core.channels.twilio import TwilioInput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.channels import format as fmt
from bot.channels import signatures
from bot.channels.messaging import Incoming, MessagingInput, env_url
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Twilio's HTTP client logs every request body (the replies) at INFO; keep them out of logs.
_http_logger = logging.getLogger("bot.channels.twilio.http")
_http_logger.setLevel(logging.WARNING)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
WHATSAPP_PREFIX = "whatsapp:"


def form_pairs(body: bytes) -> List[Tuple[str, str]]:
    """Every POST parameter, blank ones included (Twilio signs them; Sanic drops them)."""
    return parse_qsl(body.decode("utf-8"), keep_blank_values=True)


def parse_form(pairs: Sequence[Tuple[str, str]]) -> Optional[Incoming]:
    """The message in Twilio's form-encoded webhook, or None when there is nothing to answer."""
    form: Dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    sender = form.get("From", "")
    if not sender or form.get("OptOutType", "").upper() == "STOP":
        return None  # Twilio confirms the opt-out itself and blocks replies
    if form.get("MessageStatus") or form.get("SmsStatus", "received") != "received":
        return None  # a delivery status callback sent to this URL, not a message
    profile = "whatsapp" if sender.startswith(WHATSAPP_PREFIX) else "sms"
    text = form.get("Body", "").replace("¡", "@")  # carriers turn @ into ¡ (as Rasa does)
    return Incoming(
        sender_id=sender, text=text, reply_to=sender, profile=profile,
        event_id=f"twilio:{form.get('MessageSid') or form.get('SmsMessageSid') or ''}"
        if form.get("MessageSid") or form.get("SmsMessageSid") else "",
        extra={"to": form.get("To", "")},
    )


def public_url(request: Request, configured: Optional[str]) -> str:
    """The URL Twilio called, as Twilio signed it."""
    if configured:
        return configured
    url = request.url
    if get_settings().env.trust_proxy_headers:
        parts = urlsplit(url)
        scheme = request.headers.get("x-forwarded-proto", parts.scheme).split(",")[0].strip()
        host = request.headers.get("x-forwarded-host", parts.netloc).split(",")[0].strip()
        url = urlunsplit(parts._replace(scheme=scheme, netloc=host))
    return url


class ClinicTwilioInput(MessagingInput, TwilioInput):
    """Rasa's Twilio channel (SMS and WhatsApp) with signature checks and the pipeline."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ClinicTwilioInput":
        if not credentials:
            cls.raise_missing_credentials_exception()
        assert credentials is not None
        return cls(
            account_sid=str(credentials["account_sid"]),
            auth_token=str(credentials["auth_token"]),
            twilio_number=str(credentials.get("twilio_number") or ""),
            webhook_url=credentials.get("webhook_url") or get_settings().env.twilio_webhook_url,
            api_url=credentials.get("api_url"),
            turn_timeout=credentials.get("turn_timeout"),
        )

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        twilio_number: str,
        webhook_url: Optional[str] = None,
        api_url: Optional[str] = None,
        turn_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(account_sid, auth_token, twilio_number, debug_mode=False)
        self.webhook_url = webhook_url
        self.api_url = api_url or env_url("TWILIO_API_URL")
        self._client: Optional[Client] = None
        self._init_pipeline(turn_timeout)

    @property
    def client(self) -> Client:
        if self._client is None:
            client = Client(
                self.account_sid, self.auth_token,
                http_client=AsyncTwilioHttpClient(pool_connections=False, logger=_http_logger,
                                                  timeout=10),
            )
            if self.api_url:
                client.api.base_url = self.api_url
            self._client = client
        return self._client

    def acknowledge(self) -> HTTPResponse:
        return response.text(EMPTY_TWIML, content_type="text/xml")

    def is_authentic(self, request: Request) -> bool:
        return signatures.valid_twilio(
            public_url(request, self.webhook_url),
            form_pairs(request.body or b""),
            request.headers.get("X-Twilio-Signature"),
            self.auth_token or "",
        )

    def parse(self, request: Request) -> Union[HTTPResponse, List[Incoming]]:
        incoming = parse_form(form_pairs(request.body or b""))
        return [incoming] if incoming else []

    def sender_number(self, incoming: Incoming) -> str:
        """Answer from the number the person wrote to; else the configured number."""
        to = incoming.extra.get("to", "")
        if to:
            return to
        number = self.twilio_number or ""
        if incoming.profile == "whatsapp" and not number.startswith(WHATSAPP_PREFIX):
            number = WHATSAPP_PREFIX + number
        return number

    async def deliver(self, incoming: Incoming, replies: List[fmt.Reply]) -> None:
        from_number = self.sender_number(incoming)
        for reply in replies:
            await self.client.messages.create_async(
                to=incoming.reply_to, from_=from_number, body=reply.text
            )
