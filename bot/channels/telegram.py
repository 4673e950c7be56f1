"""Telegram, through Rasa's TelegramInput with the project's safeguards.

Differences from Rasa's channel: the webhook is registered at start-up with a secret token
and every update must repeat it in ``X-Telegram-Bot-Api-Secret-Token`` (403 otherwise);
Rasa instead calls ``getMe`` on every update, which checks nothing about the sender. Buttons
are an inline keyboard, one button per row; tapping one is acknowledged
(``answerCallbackQuery``) so the button stops spinning. ``/start`` greets. Replies are plain
text (no parse mode), so nothing a person typed is rendered as markup.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Text, Union

from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer
from rasa.core.channels.telegram import TelegramInput
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import format as fmt
from bot.channels import signatures
from bot.channels.messaging import Incoming, MessagingInput, env_url
from bot.settings import get_settings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
START_COMMAND = re.compile(r"^/start(@\w+)?(\s.*)?$", re.DOTALL)
GREET_PAYLOAD = "/greet"


def parse_update(update: Dict[str, Any], bot_username: str = "") -> Optional[Incoming]:
    """The person's message in a Telegram Update, or None for updates we do not answer.

    Edited messages are not answered again; stickers, photos and locations count as an
    empty message (answered with the help menu).
    """
    update_id = str(update.get("update_id", ""))
    callback = update.get("callback_query")
    if isinstance(callback, dict):
        message = callback.get("message") or {}
        chat_id = str((message.get("chat") or {}).get("id") or (callback.get("from") or {}).get("id"))
        return Incoming(
            sender_id=chat_id, text=str(callback.get("data") or ""), reply_to=chat_id,
            profile="telegram", event_id=f"telegram:{update_id}",
            extra={"callback_query_id": str(callback.get("id", ""))},
        )
    message = update.get("message")
    if not isinstance(message, dict) or "chat" not in message:
        return None
    chat_id = str(message["chat"]["id"])
    text = str(message.get("text") or message.get("caption") or "")
    if bot_username:
        text = re.sub(rf"^(/\w+)@{re.escape(bot_username)}\b", r"\1", text)
    if START_COMMAND.match(text):
        text = GREET_PAYLOAD
    return Incoming(sender_id=chat_id, text=text, reply_to=chat_id, profile="telegram",
                    event_id=f"telegram:{update_id}")


def reply_markup(buttons: Any) -> Optional[str]:
    """An inline keyboard, one button per row (titles are whole questions)."""
    if not buttons:
        return None
    rows = [[{"text": b.title, "callback_data": b.payload}] for b in buttons]
    return json.dumps({"inline_keyboard": rows})


class ClinicTelegramInput(MessagingInput, TelegramInput):
    """Rasa's Telegram channel with a secret-token check and the shared pipeline."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ClinicTelegramInput":
        if not credentials:
            cls.raise_missing_credentials_exception()
        assert credentials is not None
        return cls(
            access_token=str(credentials["access_token"]),
            verify=str(credentials.get("verify") or ""),
            webhook_url=str(credentials.get("webhook_url") or ""),
            secret_token=credentials.get("secret_token"),
            api_url=credentials.get("api_url"),
            turn_timeout=credentials.get("turn_timeout"),
        )

    def __init__(
        self,
        access_token: str,
        verify: str,
        webhook_url: str,
        secret_token: Optional[str] = None,
        api_url: Optional[str] = None,
        turn_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(access_token, verify, webhook_url, debug_mode=False)
        self.secret_token = signatures.telegram_secret(
            access_token, secret_token or get_settings().env.telegram_secret_token
        )
        api_url = api_url or env_url("TELEGRAM_API_URL")
        self.server = TelegramAPIServer.from_base(api_url) if api_url else TELEGRAM_PRODUCTION
        self._bot: Optional[Bot] = None
        self._init_pipeline(turn_timeout)

    @property
    def bot(self) -> Bot:
        """The aiogram client, made on first use inside the server's event loop."""
        if self._bot is None:
            self._bot = Bot(self.access_token, server=self.server)
        return self._bot

    def add_routes(self, blueprint: Blueprint) -> None:
        @blueprint.listener("after_server_start")
        async def register_webhook(app: Any, loop: Any) -> None:
            await self.set_webhook()

        @blueprint.listener("before_server_stop")
        async def close_session(app: Any, loop: Any) -> None:
            if self._bot is not None:
                await self._bot.session.close()

    async def set_webhook(self) -> bool:
        """Tell Telegram where to post updates, and the secret to post with them."""
        try:
            await self.bot.request("setWebhook", {
                "url": self.webhook_url,
                "secret_token": self.secret_token,
                "allowed_updates": json.dumps(["message", "callback_query"]),
            })
        except Exception as error:
            logger.error("Telegram setWebhook failed (%s); updates may not arrive until the "
                         "server restarts", type(error).__name__)
            return False
        logger.info("Telegram webhook registered")
        return True

    def is_authentic(self, request: Request) -> bool:
        return signatures.valid_telegram(self.secret_token, request.headers.get(SECRET_HEADER))

    def parse(self, request: Request) -> Union[HTTPResponse, List[Incoming]]:
        body = request.json
        if not isinstance(body, dict):
            raise ValueError("not an Update")
        incoming = parse_update(body, self.verify or "")
        return [incoming] if incoming else []

    async def before_turn(self, incoming: Incoming) -> None:
        callback_id = incoming.extra.get("callback_query_id")
        if callback_id:
            await self.bot.answer_callback_query(callback_id)

    async def deliver(self, incoming: Incoming, replies: List[fmt.Reply]) -> None:
        for reply in replies:
            data: Dict[str, Any] = {
                "chat_id": incoming.reply_to,
                "text": reply.text,
                "disable_web_page_preview": "true",
            }
            markup = reply_markup(reply.buttons)
            if markup:
                data["reply_markup"] = markup
            await self.bot.request("sendMessage", data)
