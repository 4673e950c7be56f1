"""What the messaging channels (Telegram, Twilio, Messenger, Slack) share.

Each provider's channel only says how to check a request (:meth:`is_authentic`), read it
(:meth:`parse`) and send replies (:meth:`deliver`). The turn itself runs here, the same way
for all of them and as the REST channel does:

1. a request that fails the provider's signature check gets 403 and goes no further;
2. the webhook is acknowledged at once and the turn runs in the background (Slack wants an
   answer within 3 s, Messenger and Twilio retry slow webhooks), one turn at a time per
   sender so replies keep their order; a retried delivery of the same event is dropped,
   and a sender over the rate limit is ignored;
3. a bare number ("2") that picks one of the numbered options of the previous turn becomes
   that option's payload. The options are read back from the tracker (the bot messages of
   the last turn), so this works after a restart and with several Rasa servers;
4. Rasa answers into a collector, with the same reply guarantee as REST: if it fails, times
   out or says nothing, the person gets the apology with the clinic's phone number;
5. :func:`bot.channels.format.render_turn` makes the messages fit the channel, and they
   are sent through the provider's API.

User text is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field, replace
from typing import (
    Any,
    Awaitable,
    Callable,
    ClassVar,
    Dict,
    List,
    Mapping,
    Optional,
    Set,
    Text,
    Type,
    Union,
)

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import format as fmt
from bot.channels import guard, identity
from bot.channels.metadata import keep_allowed

logger = logging.getLogger(__name__)

DEFAULT_TURN_TIMEOUT = 10.0

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class Incoming:
    """One message a person sent, as the channel read it from the webhook."""

    sender_id: str
    """The channel's id for the person or chat; the pipeline replaces it with the keyed
    conversation id Rasa stores (``bot.channels.identity``) before the turn."""
    text: str
    reply_to: str
    """Where replies go: a chat id, a phone number, a page-scoped id, a Slack channel."""
    profile: str
    """Key into :data:`bot.channels.format.PROFILES`."""
    event_id: str = ""
    """The provider's id for this delivery, to drop retries."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Channel details the reply needs (a Slack thread, a Telegram callback id...)."""


class TurnCollector(OutputChannel):
    """Collects the turn's messages as Rasa produced them (one dict per bot message)."""

    channel_name: ClassVar[str] = "collector"

    def __init__(self) -> None:
        self.messages: List[Dict[str, Any]] = []

    @classmethod
    def name(cls) -> Text:
        # Rasa picks channel-specific response variations (``channel: twilio``) by this name.
        return cls.channel_name

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.messages.append({k: v for k, v in dict(message).items() if v is not None})

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        self.messages.append({"text": text})


_COLLECTORS: Dict[str, Type[TurnCollector]] = {}


def collector_for(channel: str) -> TurnCollector:
    if channel not in _COLLECTORS:
        _COLLECTORS[channel] = type(
            f"{channel.title()}TurnCollector", (TurnCollector,), {"channel_name": channel}
        )
    return _COLLECTORS[channel]()


def env_url(name: str) -> Optional[str]:
    """A provider API base URL override (only the tests set these), e.g. ``TWILIO_API_URL``."""
    from bot.settings import get_settings

    value = (getattr(get_settings().env, name.lower()) or "").strip()
    return value or None


class MessagingInput(InputChannel):
    """The shared webhook pipeline; subclasses implement is_authentic, parse and deliver."""

    turn_timeout: float = DEFAULT_TURN_TIMEOUT

    def _init_pipeline(self, turn_timeout: Optional[float] = None) -> None:
        self.turn_timeout = float(turn_timeout or DEFAULT_TURN_TIMEOUT)
        self.per_sender = guard.limiter_from_env("RATE_LIMIT_SENDER")
        self.delivered = guard.RecentKeys()
        self._tasks: Set["asyncio.Task[None]"] = set()
        identity.channel_key()  # made (or its absence reported) at start-up, not mid-turn
        # one turn at a time per sender, so replies keep the order of the messages and a
        # quick "2" is read against the turn before it (gone when no task holds it)
        self._sender_locks: "weakref.WeakValueDictionary[str, asyncio.Lock]" = (
            weakref.WeakValueDictionary()
        )

    # -- what each provider implements ---------------------------------------------------

    def is_authentic(self, request: Request) -> bool:
        """Whether the request really comes from the provider (its signature checks out)."""
        raise NotImplementedError

    def parse(self, request: Request) -> Union[HTTPResponse, List[Incoming]]:
        """The messages in a verified request, or a response to give directly."""
        raise NotImplementedError

    async def deliver(self, incoming: Incoming, replies: List[fmt.Reply]) -> None:
        """Send the replies through the provider's API."""
        raise NotImplementedError

    async def before_turn(self, incoming: Incoming) -> None:
        """Optional: acknowledge a button tap, show typing..."""

    def acknowledge(self) -> HTTPResponse:
        return response.text("")

    def add_routes(self, blueprint: Blueprint) -> None:
        """Optional: extra routes (Messenger's verification GET) and listeners."""

    def get_output_channel(self) -> Optional[OutputChannel]:
        """No proactive messages through Rasa's HTTP API: replies go out per turn.

        (Rasa's own versions would, for Telegram, call the API with ``asyncio.run`` inside
        the running server.)
        """
        return None

    # -- the pipeline ----------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint(f"clinic_{self.name()}_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.is_authentic(request):
                logger.warning("%s webhook: rejected a request without a valid signature",
                               self.name())
                return response.json({"error": "invalid or missing signature"}, status=403)
            try:
                parsed = self.parse(request)
            except (SanicException, ValueError, KeyError, TypeError, AttributeError):
                logger.warning("%s webhook: could not read a signed request", self.name())
                return response.json({"error": "unreadable request"}, status=400)
            if isinstance(parsed, HTTPResponse):
                return parsed
            for parsed_incoming in parsed:
                # the stored conversation is keyed; replies still go to the channel's id
                incoming = replace(parsed_incoming, sender_id=identity.conversation_id(
                    self.name(), parsed_incoming.sender_id))
                if incoming.event_id and self.delivered.seen(incoming.event_id):
                    logger.info("%s webhook: dropped a repeated delivery", self.name())
                    continue
                if not self.per_sender.allow(incoming.sender_id):
                    logger.warning("%s webhook: sender over the rate limit", self.name())
                    continue
                self._spawn(self.handle_turn(incoming, on_new_message, request.app))
            return self.acknowledge()

        self.add_routes(webhook)
        return webhook

    def _spawn(self, work: Awaitable[None]) -> None:
        task: "asyncio.Task[None]" = asyncio.ensure_future(work)
        self._tasks.add(task)  # keep a reference until it is done (asyncio docs)
        task.add_done_callback(self._tasks.discard)

    async def handle_turn(self, incoming: Incoming, on_new_message: OnNewMessage, app: Any) -> None:
        """Run one turn and send its replies; never raises, never stays silent."""
        lock = self._sender_locks.get(incoming.sender_id)
        if lock is None:
            lock = self._sender_locks[incoming.sender_id] = asyncio.Lock()
        async with lock:
            await self._answer(incoming, on_new_message, app)

    async def _answer(self, incoming: Incoming, on_new_message: OnNewMessage, app: Any) -> None:
        profile = fmt.PROFILES[incoming.profile]
        try:
            try:
                await self.before_turn(incoming)
            except Exception as error:  # a typing indicator is not worth a lost turn
                logger.info("%s: before_turn failed: %s", self.name(), type(error).__name__)
            messages = await self._run_turn(incoming, on_new_message, app, profile)
            replies = fmt.render_turn(messages, profile)
            if not replies:
                replies = fmt.render_turn([guard.unavailable_reply()], profile)
            await self.deliver(incoming, replies)
        except Exception as error:
            logger.error("%s: could not answer a message: %s", self.name(), type(error).__name__)
            logger.debug("details", exc_info=True)

    async def _run_turn(
        self, incoming: Incoming, on_new_message: OnNewMessage, app: Any,
        profile: fmt.ChannelProfile,
    ) -> List[Dict[str, Any]]:
        try:
            text = guard.clean_text(incoming.text)
        except guard.BadRequest:
            text = guard.EMPTY_MESSAGE_PAYLOAD
        metadata: Dict[str, Any] = {"channel": incoming.profile}
        if fmt.is_choice(text):
            option = fmt.pick_option(text, await self.offered_options(app, incoming.sender_id,
                                                                        profile))
            if option is not None:
                text = option.payload
                metadata["option"] = {"number": option.number, "title": option.title}
        collector = collector_for(self.name())
        message = UserMessage(
            text, collector, incoming.sender_id, input_channel=self.name(),
            metadata=keep_allowed(metadata),
        )
        answered = await guard.run_with_reply_guarantee(
            lambda: on_new_message(message), lambda: list(collector.messages),
            self.turn_timeout,
        )
        messages = list(collector.messages)
        if not answered:
            messages.append(guard.unavailable_reply())
        return messages

    @staticmethod
    async def offered_options(
        app: Any, sender_id: str, profile: fmt.ChannelProfile
    ) -> List[fmt.Option]:
        """The numbered options of this sender's previous turn, read from the tracker."""
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return []
        try:
            tracker = await store.retrieve(sender_id)
        except Exception as error:
            logger.warning("could not read the tracker for a numbered reply: %s",
                           type(error).__name__)
            return []
        if tracker is None:
            return []
        events = [event.as_dict() for event in tracker.events]
        return fmt.numbered_options(fmt.bot_messages_of_last_turn(events), profile)
