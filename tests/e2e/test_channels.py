"""Telegram, Twilio (SMS, WhatsApp), Messenger and Slack over the real servers, no network.

The Rasa server runs with every channel's variables set (fake tokens) and each provider's
API pointed at one loopback server that records what it is sent (``*_API_URL`` /
``FB_GRAPH_URL``, which only tests set). Each test posts the provider's real webhook format,
signed the way the provider signs it (Twilio's signature by Twilio's own library), and reads
what the person would receive from the recorded API calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.channels.signatures import telegram_secret
from bot.deploy import serve
from bot.deploy.serve import free_port
from tests.e2e.conftest import Assistant, start_assistant

DOI = "https://doi.org/10.3390/nu14102081"
CRISIS_NUMBERS = ("988", "911", "1-877-303-2642")
TELEGRAM_TOKEN = "123456789:TEST-telegram-token"
TELEGRAM_SECRET = "test_secret_token"
TWILIO_SID = "AC00000000000000000000000000000000"
TWILIO_TOKEN = "test-twilio-auth-token"
SMS_NUMBER = "+15875550199"
SENDER_ID_KEY = "test-sender-id-key-0123456789abcdef"
LEGACY_PERSON = "+14035550999"  # an SMS conversation stored under the raw number (before keying)
FB_SECRET = "test-app-secret"
SLACK_SECRET = "test-signing-secret"


# -- a fake of the four providers' APIs ----------------------------------------------------


class FakeProviders:
    """api.telegram.org, api.twilio.com, graph.facebook.com and slack.com/api on loopback.

    Every request is recorded as a dict: ``path``, ``query``, ``headers`` and ``body``
    (parsed JSON or form fields).
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._runner: Optional[web.AppRunner] = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake provider server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body: Any = await request.json()
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            body = {k: str(v) for k, v in (await request.post()).items()}
        else:
            body = await request.text()
        record = {"path": request.path, "query": dict(request.query),
                  "headers": dict(request.headers), "body": body}
        with self._lock:
            self.requests.append(record)
        return self._answer(request.path, body)

    @staticmethod
    def _answer(path: str, body: Any) -> web.Response:
        fields = body if isinstance(body, dict) else {}
        if path.startswith("/bot"):
            if path.endswith("/sendMessage"):
                chat = fields.get("chat_id", "0")
                return web.json_response({"ok": True, "result": {
                    "message_id": 1, "date": int(time.time()),
                    "chat": {"id": int(chat) if str(chat).lstrip("-").isdigit() else chat,
                             "type": "private"},
                    "text": fields.get("text", "")}})
            return web.json_response({"ok": True, "result": True})
        if path.endswith("/Messages.json"):
            return web.json_response({
                "sid": "SM" + "0" * 32, "account_sid": TWILIO_SID, "to": fields.get("To"),
                "from": fields.get("From"), "body": fields.get("Body"), "status": "queued",
                "num_segments": "1", "direction": "outbound-api"}, status=201)
        if path == "/me/messages":
            return web.json_response({"recipient_id": fields.get("recipient", {}).get("id"),
                                      "message_id": "mid.1"})
        if path == "/chat.postMessage":
            return web.json_response({"ok": True, "channel": fields.get("channel"),
                                      "ts": "1700000001.000200"})
        return web.json_response({"error": "unknown path"}, status=404)

    def matching(self, predicate: Callable[[Dict[str, Any]], bool]) -> List[Dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]

    def wait_for(
        self, predicate: Callable[[Dict[str, Any]], bool], count: int = 1, timeout: float = 30,
        settle: float = 0.5,
    ) -> List[Dict[str, Any]]:
        """The matching requests once there are ``count``, after the turn has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(predicate)
            if len(found) >= count:
                time.sleep(settle)  # the rest of a split answer
                return self.matching(predicate)
            time.sleep(0.1)
        raise AssertionError(f"the provider API was not called {count} time(s) in {timeout} s")


# -- the running stack ---------------------------------------------------------------------


class Stack:
    def __init__(self, assistant: Assistant, fake: FakeProviders, tmp: Path) -> None:
        self.assistant = assistant
        self.fake = fake
        self.tracker_db = tmp / "tracker.db"

    def url(self, channel: str) -> str:
        return f"{self.assistant.base_url}/webhooks/{channel}/webhook"

    def post(self, channel: str, body: bytes, headers: Dict[str, str]) -> Tuple[int, str]:
        request = urllib.request.Request(self.url(channel), data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    @staticmethod
    def keyed(channel: str, raw_id: str) -> str:
        """The conversation id the channel stores ``raw_id``'s conversation under."""
        digest = hmac.new(SENDER_ID_KEY.encode(), f"{channel}:{raw_id}".encode(), hashlib.sha256)
        return f"{channel}:{digest.hexdigest()}"

    def conversations(self, sender_id: str) -> int:
        """How many events the assistant stored for ``sender_id``."""
        with sqlite3.connect(self.tracker_db) as db:
            try:
                row = db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?",
                                 (sender_id,)).fetchone()
            except sqlite3.OperationalError:
                return 0
        return int(row[0])


def seed_legacy_conversation(path: Path, sender_id: str) -> None:
    """A Twilio conversation as the assistant stored it before ids were keyed (Rasa's store)."""
    from concurrent.futures import ThreadPoolExecutor

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    async def save() -> None:
        store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
        tracker = DialogueStateTracker.from_events(sender_id, [
            UserUttered("my old question", input_channel="twilio"),
            BotUttered("my old answer"),
        ])
        await store.save(tracker)

    with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop
        pool.submit(asyncio.run, save()).result()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    fake = FakeProviders()
    tmp = tmp_path_factory.mktemp("channels")
    seed_legacy_conversation(tmp / "tracker.db", LEGACY_PERSON)
    running = None
    try:
        running = start_assistant(
            tmp, SENDER_ID_KEY=SENDER_ID_KEY,
            TELEGRAM_TOKEN=TELEGRAM_TOKEN, TELEGRAM_VERIFY="clinic_test_bot",
            TELEGRAM_WEBHOOK_URL="https://clinic.example/webhooks/telegram/webhook",
            TELEGRAM_SECRET_TOKEN=TELEGRAM_SECRET, TELEGRAM_API_URL=fake.url,
            TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
            TWILIO_NUMBER=SMS_NUMBER, TWILIO_API_URL=fake.url,
            FB_VERIFY="test-verify-token", FB_SECRET=FB_SECRET,
            FB_PAGE_ACCESS_TOKEN="test-page-token", FB_GRAPH_URL=fake.url,
            SLACK_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SLACK_SECRET,
            SLACK_API_URL=fake.url + "/",
        )
        yield Stack(running, fake, tmp)
    finally:
        if running is not None:
            serve.stop(running.config)
        fake.close()


def first_sentence(text: str) -> str:
    return text.split(". ")[0].split("\n")[0]


def rest_reply(stack: Stack, sender: str, message: str) -> Tuple[str, List[Dict[str, str]]]:
    """The REST channel's answer text and buttons, to compare the other channels with."""
    messages = stack.assistant.send(sender, message)
    return Assistant.text(messages), [b for m in messages for b in m.get("buttons", [])]


# -- how each provider posts ---------------------------------------------------------------


def telegram_update(chat_id: int, text: str, update_id: int) -> bytes:
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text,
        "chat": {"id": chat_id, "type": "private", "first_name": "Ana"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "Ana", "language_code": "en"},
    }}).encode()


def telegram_headers(secret: Optional[str] = TELEGRAM_SECRET) -> Dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return headers


def twilio_form(stack: Stack, sender: str, text: str, sid: str,
                to: str = SMS_NUMBER) -> Tuple[bytes, Dict[str, str]]:
    """Twilio's form-encoded webhook, signed by Twilio's own library."""
    params = {"ToCountry": "CA", "ToState": "AB", "SmsMessageSid": sid, "NumMedia": "0",
              "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "AB",
              "SmsStatus": "received", "FromCity": "CALGARY", "Body": text, "FromCountry": "CA",
              "To": to, "ToZip": "", "NumSegments": "1", "MessageSid": sid,
              "AccountSid": TWILIO_SID, "From": sender, "ApiVersion": "2010-04-01"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(stack.url("twilio"), params)
    return urllib.parse.urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}


def messenger_event(psid: str, text: str, mid: str,
                    quick_reply: Optional[str] = None) -> bytes:
    message: Dict[str, Any] = {"mid": mid, "text": text}
    if quick_reply:
        message["quick_reply"] = {"payload": quick_reply}
    return json.dumps({"object": "page", "entry": [{"id": "PAGE1", "time": int(time.time() * 1000),
                       "messaging": [{"sender": {"id": psid}, "recipient": {"id": "PAGE1"},
                                      "timestamp": int(time.time() * 1000),
                                      "message": message}]}]}).encode()


def messenger_headers(body: bytes, secret: str = FB_SECRET) -> Dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def slack_headers(body: bytes, content_type: str = "application/json",
                  secret: str = SLACK_SECRET, age: int = 0) -> Dict[str, str]:
    stamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}"}


def slack_dm(user: str, channel: str, text: str, event_id: str) -> bytes:
    ts = f"{time.time():.6f}"
    return json.dumps({
        "token": "legacy-token-ignored", "team_id": "T1", "api_app_id": "A1",
        "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
        "event": {"type": "message", "channel_type": "im", "channel": channel, "user": user,
                  "text": text, "ts": ts, "event_ts": ts, "client_msg_id": event_id},
    }).encode()


def sent_to_telegram(chat_id: int) -> Callable[[Dict[str, Any]], bool]:
    return lambda r: r["path"].endswith("/sendMessage") and r["body"].get("chat_id") == str(chat_id)


def sent_by_twilio(to: str) -> Callable[[Dict[str, Any]], bool]:
    return lambda r: r["path"].endswith("/Messages.json") and r["body"].get("To") == to


def sent_to_messenger(psid: str) -> Callable[[Dict[str, Any]], bool]:
    return lambda r: (r["path"] == "/me/messages" and "message" in r["body"]
                      and r["body"]["recipient"]["id"] == psid)


def sent_to_slack(channel: str) -> Callable[[Dict[str, Any]], bool]:
    return lambda r: r["path"] == "/chat.postMessage" and r["body"].get("channel") == channel


# -- Telegram ------------------------------------------------------------------------------


def test_telegram_webhook_is_registered_with_the_secret_token(stack: Stack) -> None:
    calls = stack.fake.wait_for(lambda r: r["path"].endswith("/setWebhook"))
    assert calls[0]["path"] == f"/bot{TELEGRAM_TOKEN}/setWebhook"
    assert calls[0]["body"]["url"] == "https://clinic.example/webhooks/telegram/webhook"
    assert calls[0]["body"]["secret_token"] == TELEGRAM_SECRET
    assert TELEGRAM_SECRET != telegram_secret(TELEGRAM_TOKEN)  # the configured one wins


def test_telegram_answer_has_the_source_line_and_real_buttons(stack: Stack) -> None:
    rest_text, rest_buttons = rest_reply(stack, "rest-telegram-compare", "what's butyrate?")
    status, _ = stack.post("telegram", telegram_update(1001, "what's butyrate?", 1),
                           telegram_headers())
    assert status == 200
    sent = stack.fake.wait_for(sent_to_telegram(1001))
    text = "\n".join(r["body"]["text"] for r in sent)
    assert first_sentence(rest_text) in text
    assert "Source:" in text and DOI in text
    keyboard = json.loads(sent[-1]["body"]["reply_markup"])["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [b["payload"] for b in rest_buttons]
    assert [row[0]["text"] for row in keyboard] == [b["title"] for b in rest_buttons]
    assert "Reply with a number" not in text


def test_telegram_button_tap_answers_that_topic(stack: Stack) -> None:
    rest_text, _ = rest_reply(stack, "rest-telegram-tap", "/prebiotics")
    update = json.dumps({"update_id": 2, "callback_query": {
        "id": "cbq-1", "chat_instance": "ci", "data": "/prebiotics",
        "from": {"id": 1002, "is_bot": False, "first_name": "Ana"},
        "message": {"message_id": 9, "date": int(time.time()), "text": "earlier answer",
                    "chat": {"id": 1002, "type": "private"}}}}).encode()
    assert stack.post("telegram", update, telegram_headers())[0] == 200
    sent = stack.fake.wait_for(sent_to_telegram(1002))
    assert first_sentence(rest_text) in sent[0]["body"]["text"]
    answered = stack.fake.matching(lambda r: r["path"].endswith("/answerCallbackQuery"))
    assert [r["body"]["callback_query_id"] for r in answered] == ["cbq-1"]


# -- Twilio: SMS and WhatsApp --------------------------------------------------------------


def test_sms_gets_numbered_options_and_2_picks_option_2(stack: Stack) -> None:
    rest_text, rest_buttons = rest_reply(stack, "rest-sms-compare", "what's butyrate?")
    person = "+14035550101"
    body, headers = twilio_form(stack, person, "what's butyrate?", "SM" + "1" * 32)
    status, answer = stack.post("twilio", body, headers)
    assert status == 200 and "<Response>" in answer
    sent = stack.fake.wait_for(sent_by_twilio(person))
    text = "\n".join(r["body"]["Body"] for r in sent)
    assert all(len(r["body"]["Body"]) <= 1600 for r in sent)
    assert all(r["body"]["From"] == SMS_NUMBER for r in sent)
    assert first_sentence(rest_text) in text and "Source:" in text and DOI in text
    for number, button in enumerate(rest_buttons, start=1):
        assert f"{number}. {button['title']}" in text

    expected, _ = rest_reply(stack, "rest-sms-option-2", rest_buttons[1]["payload"])
    not_expected, _ = rest_reply(stack, "rest-sms-option-1", rest_buttons[0]["payload"])
    before = len(sent)
    body, headers = twilio_form(stack, person, "2", "SM" + "2" * 32)
    assert stack.post("twilio", body, headers)[0] == 200
    reply = "\n".join(r["body"]["Body"] for r in
                      stack.fake.wait_for(sent_by_twilio(person), count=before + 1)[before:])
    assert first_sentence(expected) in reply
    assert first_sentence(not_expected) not in reply


def test_whatsapp_is_answered_from_the_whatsapp_number(stack: Stack) -> None:
    person = "whatsapp:+14035550102"
    body, headers = twilio_form(stack, person, "what is the gut-brain axis?", "SM" + "3" * 32,
                                to="whatsapp:" + SMS_NUMBER)
    assert stack.post("twilio", body, headers)[0] == 200
    sent = stack.fake.wait_for(sent_by_twilio(person))
    assert all(r["body"]["From"] == "whatsapp:" + SMS_NUMBER for r in sent)
    text = "\n".join(r["body"]["Body"] for r in sent)
    assert DOI in text and "1. " in text


def test_a_retried_twilio_delivery_is_answered_once(stack: Stack) -> None:
    person = "+14035550103"
    body, headers = twilio_form(stack, person, "hello", "SM" + "4" * 32)
    assert stack.post("twilio", body, headers)[0] == 200
    assert stack.post("twilio", body, headers)[0] == 200
    first = stack.fake.wait_for(sent_by_twilio(person), settle=2.0)
    assert len({r["body"]["Body"] for r in first}) == len(first)


# -- Messenger -----------------------------------------------------------------------------


def test_messenger_subscription_check(stack: Stack) -> None:
    query = "hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=12345"
    with urllib.request.urlopen(f"{stack.url('facebook')}?{query}", timeout=10) as response:  # noqa: S310
        assert response.read() == b"12345"
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{stack.url('facebook')}?{query.replace('test-verify', 'x')}",  # noqa: S310
                               timeout=10)
    assert error.value.code == 403


def test_messenger_answer_quick_replies_and_a_typed_number(stack: Stack) -> None:
    rest_text, rest_buttons = rest_reply(stack, "rest-fb-compare", "what's butyrate?")
    body = messenger_event("PSID-1", "what's butyrate?", "mid.1")
    assert stack.post("facebook", body, messenger_headers(body))[0] == 200
    sent = stack.fake.wait_for(sent_to_messenger("PSID-1"))
    message = sent[-1]["body"]["message"]
    text = "\n".join(r["body"]["message"]["text"] for r in sent)
    assert first_sentence(rest_text) in text and DOI in text
    assert all(len(r["body"]["message"]["text"]) <= 2000 for r in sent)
    assert [q["payload"] for q in message["quick_replies"]] == [b["payload"] for b in rest_buttons]
    assert all(len(q["title"]) <= 20 for q in message["quick_replies"])
    assert sent[0]["query"]["access_token"] == "test-page-token"

    expected, _ = rest_reply(stack, "rest-fb-option", rest_buttons[1]["payload"])
    before = len(sent)
    typed = messenger_event("PSID-1", "2", "mid.2")
    assert stack.post("facebook", typed, messenger_headers(typed))[0] == 200
    sent = stack.fake.wait_for(sent_to_messenger("PSID-1"), count=before + 1)
    assert first_sentence(expected) in "\n".join(r["body"]["message"]["text"] for r in sent[before:])


def test_messenger_quick_reply_tap_answers_that_topic(stack: Stack) -> None:
    expected, _ = rest_reply(stack, "rest-fb-tap", "/ibs")
    body = messenger_event("PSID-2", "Is IBS linked?", "mid.3", quick_reply="/ibs")
    assert stack.post("facebook", body, messenger_headers(body))[0] == 200
    sent = stack.fake.wait_for(sent_to_messenger("PSID-2"))
    assert first_sentence(expected) in sent[0]["body"]["message"]["text"]


# -- Slack ---------------------------------------------------------------------------------


def test_slack_url_verification_echoes_the_challenge(stack: Stack) -> None:
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    status, answer = stack.post("slack", body, slack_headers(body))
    assert (status, answer) == (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    unsigned_status, _ = stack.post("slack", body, {"Content-Type": "application/json"})
    assert unsigned_status == 403


def test_slack_direct_message_and_button_tap(stack: Stack) -> None:
    rest_text, rest_buttons = rest_reply(stack, "rest-slack-compare", "what's butyrate?")
    body = slack_dm("U1", "D1", "what's butyrate?", "Ev1")
    assert stack.post("slack", body, slack_headers(body))[0] == 200
    sent = stack.fake.wait_for(sent_to_slack("D1"))
    post = sent[-1]
    assert post["headers"]["Authorization"] == "Bearer xoxb-test-token"
    sections = " ".join(b["text"]["text"] for r in sent for b in r["body"]["blocks"]
                        if b["type"] == "section")
    assert first_sentence(rest_text) in sections and f"<{DOI}>" in sections
    actions = [b for b in post["body"]["blocks"] if b["type"] == "actions"][0]
    assert [e["value"] for e in actions["elements"]] == [b["payload"] for b in rest_buttons]

    expected, _ = rest_reply(stack, "rest-slack-tap", rest_buttons[1]["payload"])
    payload = {"type": "block_actions", "user": {"id": "U1", "username": "ana"},
               "api_app_id": "A1", "token": "t", "trigger_id": "trigger-1",
               "container": {"type": "message", "message_ts": "1.1", "channel_id": "D1"},
               "channel": {"id": "D1", "name": "directmessage"},
               "message": {"ts": "1.1", "text": "earlier answer"},
               "actions": [{**actions["elements"][1], "block_id": "b1",
                            "action_ts": str(time.time())}]}
    form = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    headers = slack_headers(form, "application/x-www-form-urlencoded")
    assert stack.post("slack", form, headers)[0] == 200
    before = len(sent)
    sent = stack.fake.wait_for(sent_to_slack("D1"), count=before + 1)
    assert first_sentence(expected) in "\n".join(r["body"]["text"] for r in sent[before:])


# -- every channel -------------------------------------------------------------------------


def crisis_on(stack: Stack, channel: str) -> str:
    """Send a crisis message on ``channel``; return all the text the person received."""
    said = "i don't want to live anymore"
    if channel == "telegram":
        stack.post("telegram", telegram_update(1009, said, 9), telegram_headers())
        sent = stack.fake.wait_for(sent_to_telegram(1009))
        return "\n".join(r["body"]["text"] for r in sent)
    if channel in ("sms", "whatsapp"):
        person = "+14035550109" if channel == "sms" else "whatsapp:+14035550109"
        to = SMS_NUMBER if channel == "sms" else "whatsapp:" + SMS_NUMBER
        body, headers = twilio_form(stack, person, said, f"SM{channel}9", to=to)
        stack.post("twilio", body, headers)
        return "\n".join(r["body"]["Body"] for r in stack.fake.wait_for(sent_by_twilio(person)))
    if channel == "messenger":
        body = messenger_event("PSID-9", said, "mid.9")
        stack.post("facebook", body, messenger_headers(body))
        sent = stack.fake.wait_for(sent_to_messenger("PSID-9"))
        return "\n".join(r["body"]["message"]["text"] for r in sent)
    body = slack_dm("U9", "D9", said, "Ev9")
    stack.post("slack", body, slack_headers(body))
    return "\n".join(r["body"]["text"] for r in stack.fake.wait_for(sent_to_slack("D9")))


@pytest.mark.parametrize("channel", ["telegram", "sms", "whatsapp", "messenger", "slack"])
def test_crisis_resources_reach_every_channel(stack: Stack, channel: str) -> None:
    text = crisis_on(stack, channel)
    for number in CRISIS_NUMBERS:
        assert number in text, (channel, number)


def forged(stack: Stack, channel: str) -> Tuple[int, str, Callable[[Dict[str, Any]], bool]]:
    """Post a forged or unsigned request; (status, sender id, what a reply would match)."""
    said = "what's butyrate?"
    if channel == "telegram-wrong-secret":
        status, _ = stack.post("telegram", telegram_update(1666, said, 66), telegram_headers("guess"))
        return status, "1666", sent_to_telegram(1666)
    if channel == "telegram-no-secret":
        status, _ = stack.post("telegram", telegram_update(1667, said, 67), telegram_headers(None))
        return status, "1667", sent_to_telegram(1667)
    if channel == "twilio-forged":
        body, headers = twilio_form(stack, "+14035550666", said, "SM" + "6" * 32)
        headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJl"
        return stack.post("twilio", body, headers)[0], "+14035550666", sent_by_twilio("+14035550666")
    if channel == "twilio-tampered":
        body, headers = twilio_form(stack, "+14035550667", said, "SM" + "7" * 32)
        body = body.replace(b"butyrate", b"booking")
        return stack.post("twilio", body, headers)[0], "+14035550667", sent_by_twilio("+14035550667")
    if channel == "twilio-unsigned":
        body, headers = twilio_form(stack, "+14035550668", said, "SM" + "8" * 32)
        del headers["X-Twilio-Signature"]
        return stack.post("twilio", body, headers)[0], "+14035550668", sent_by_twilio("+14035550668")
    if channel == "messenger-forged":
        body = messenger_event("PSID-666", said, "mid.666")
        status = stack.post("facebook", body, messenger_headers(body, secret="guess"))[0]
        return status, "PSID-666", sent_to_messenger("PSID-666")
    if channel == "messenger-unsigned":
        body = messenger_event("PSID-667", said, "mid.667")
        status = stack.post("facebook", body, {"Content-Type": "application/json"})[0]
        return status, "PSID-667", sent_to_messenger("PSID-667")
    if channel == "slack-forged":
        body = slack_dm("U666", "D666", said, "Ev666")
        return stack.post("slack", body, slack_headers(body, secret="guess"))[0], "U666", \
            sent_to_slack("D666")
    body = slack_dm("U667", "D667", said, "Ev667")  # slack-replayed: signed 6 minutes ago
    return stack.post("slack", body, slack_headers(body, age=360))[0], "U667", sent_to_slack("D667")


@pytest.mark.parametrize("case", [
    "telegram-wrong-secret", "telegram-no-secret", "twilio-forged", "twilio-tampered",
    "twilio-unsigned", "messenger-forged", "messenger-unsigned", "slack-forged", "slack-replayed",
])
def test_forged_requests_are_rejected_and_never_reach_the_assistant(stack: Stack, case: str) -> None:
    status, sender, reply = forged(stack, case)
    assert status == 403
    time.sleep(1.5)
    assert stack.fake.matching(reply) == []
    assert stack.conversations(sender) == 0
    channel = case.split("-")[0].replace("messenger", "facebook")
    assert stack.conversations(stack.keyed(channel, sender)) == 0


# -- conversation identity (issue 16, item 3) -----------------------------------------------


def test_a_channel_conversation_is_keyed_and_unreachable_over_rest(stack: Stack) -> None:
    person = "+14035550123"
    body, headers = twilio_form(stack, person, "I'd like to book an appointment", "SM" + "5" * 32)
    assert stack.post("twilio", body, headers)[0] == 200
    stack.fake.wait_for(sent_by_twilio(person))
    keyed = stack.keyed("twilio", person)
    assert stack.conversations(keyed) > 0
    assert stack.conversations(person) == 0  # the number names no stored conversation
    before = stack.conversations(keyed)
    # REST cannot name it: neither the number (a new, empty conversation) nor the keyed id
    status, answer = stack.assistant.post(
        json.dumps({"sender": person, "message": "what did I say?"}).encode(),
        {"Content-Type": "application/json"})
    assert status == 200 and all(m["recipient_id"] == person for m in answer)
    for sender in (keyed, "twilio:+14035550123", "Telegram:12345", "slack:U1", "facebook:1"):
        status, answer = stack.assistant.post(
            json.dumps({"sender": sender, "message": "delete my data"}).encode(),
            {"Content-Type": "application/json"})
        assert status == 400 and "reserved" in answer["error"], sender
    assert stack.conversations(keyed) == before
    assert "my old" not in json.dumps(stack.assistant.stored_event_data(person))


def test_a_conversation_stored_under_a_raw_number_moved_to_its_keyed_id(stack: Stack) -> None:
    keyed = stack.keyed("twilio", LEGACY_PERSON)
    assert stack.conversations(LEGACY_PERSON) == 0
    old = [e.get("text") for e in stack.assistant.stored_event_data(keyed)
           if e.get("event") in ("user", "bot")]
    assert old == ["my old question", "my old answer"]
    # the person writes again: the same conversation goes on
    body, headers = twilio_form(stack, LEGACY_PERSON, "hello", "SM" + "6" * 32)
    assert stack.post("twilio", body, headers)[0] == 200
    stack.fake.wait_for(sent_by_twilio(LEGACY_PERSON))
    time.sleep(0.5)
    assert len(stack.assistant.stored_event_data(keyed)) > 2
    assert stack.conversations(LEGACY_PERSON) == 0


def test_an_assistant_failure_still_gets_an_apology_on_a_messaging_channel(stack: Stack) -> None:
    """Runs last: stops the action server of this module's stack."""
    serve.stop_process("actions", stack.assistant.config)
    person = "+14035550777"
    body, headers = twilio_form(stack, person, "what's butyrate?", "SM" + "9" * 32)
    assert stack.post("twilio", body, headers)[0] == 200
    sent = stack.fake.wait_for(sent_by_twilio(person), timeout=40)
    text = "\n".join(r["body"]["Body"] for r in sent)
    assert "Sorry" in text and "911" in text
