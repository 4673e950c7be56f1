"""Each provider's webhook format is read right, and the shared turn never stays silent."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels import format as fmt
from bot.channels.messaging import Incoming, MessagingInput
from bot.channels.messenger import parse_page_event, send_body
from bot.channels.slack import ClinicSlackInput, escape_mrkdwn, post_arguments
from bot.channels.telegram import parse_update, reply_markup
from bot.channels.twilio import form_pairs, parse_form

# -- Telegram ------------------------------------------------------------------------------


def telegram_message(text: Optional[str], **extra: Any) -> Dict[str, Any]:
    message = {"message_id": 5, "date": 1700000000, "chat": {"id": 4242, "type": "private"},
               "from": {"id": 4242, "is_bot": False, "first_name": "Ana"}, **extra}
    if text is not None:
        message["text"] = text
    return {"update_id": 901, "message": message}


def test_telegram_text_message() -> None:
    incoming = parse_update(telegram_message("what's butyrate?"))
    assert incoming is not None
    assert (incoming.sender_id, incoming.text, incoming.reply_to) == ("4242", "what's butyrate?",
                                                                      "4242")
    assert incoming.event_id == "telegram:901"


def test_telegram_start_greets_and_commands_lose_the_bot_name() -> None:
    assert parse_update(telegram_message("/start")).text == "/greet"  # type: ignore[union-attr]
    assert parse_update(telegram_message("/start@clinic_bot"), "clinic_bot").text == "/greet"  # type: ignore[union-attr]
    assert parse_update(telegram_message("/help@clinic_bot"), "clinic_bot").text == "/help"  # type: ignore[union-attr]


def test_telegram_button_tap_carries_the_payload_and_the_callback_id() -> None:
    update = {"update_id": 902, "callback_query": {
        "id": "cb-1", "from": {"id": 4242}, "data": "/prebiotics",
        "message": telegram_message("x")["message"]}}
    incoming = parse_update(update)
    assert incoming is not None
    assert incoming.text == "/prebiotics" and incoming.reply_to == "4242"
    assert incoming.extra["callback_query_id"] == "cb-1"


def test_telegram_sticker_is_an_empty_message_and_edits_are_not_answered_twice() -> None:
    sticker = parse_update(telegram_message(None, sticker={"file_id": "x"}))
    assert sticker is not None and sticker.text == ""
    assert parse_update({"update_id": 3, "edited_message": telegram_message("hi")["message"]}) is None


def test_telegram_keyboard_has_one_button_per_row() -> None:
    markup = json.loads(reply_markup((fmt.Button("What are prebiotics?", "/prebiotics"),
                                      fmt.Button("Book a consultation", "/book_appointment")))
                        or "{}")
    assert markup == {"inline_keyboard": [
        [{"text": "What are prebiotics?", "callback_data": "/prebiotics"}],
        [{"text": "Book a consultation", "callback_data": "/book_appointment"}],
    ]}
    assert reply_markup(()) is None


# -- Twilio --------------------------------------------------------------------------------


def test_twilio_sms_and_whatsapp_are_told_apart() -> None:
    body = (b"MessageSid=SM1&From=%2B14035550100&To=%2B15875550199&Body=hello%C2%A1there"
            b"&FromCity=&NumMedia=0")
    pairs = form_pairs(body)
    assert ("FromCity", "") in pairs  # blank parameters are kept: Twilio signs them
    sms = parse_form(pairs)
    assert sms is not None and sms.profile == "sms" and sms.text == "hello@there"
    assert sms.extra["to"] == "+15875550199" and sms.event_id == "twilio:SM1"
    whatsapp = parse_form([("From", "whatsapp:+14035550100"), ("To", "whatsapp:+15875550199"),
                           ("Body", "hi")])
    assert whatsapp is not None and whatsapp.profile == "whatsapp"
    assert whatsapp.reply_to == "whatsapp:+14035550100"


def test_twilio_opt_out_and_status_callbacks_are_not_answered() -> None:
    assert parse_form([("From", "+14035550100"), ("Body", "STOP"), ("OptOutType", "STOP")]) is None
    assert parse_form([("From", "+15875550199"), ("To", "+14035550100"), ("MessageSid", "SM1"),
                       ("MessageStatus", "delivered"), ("SmsStatus", "delivered")]) is None
    assert parse_form([("From", "+14035550100"), ("Body", "hi"), ("SmsStatus", "received")])


# -- Messenger -----------------------------------------------------------------------------


def test_messenger_answers_every_message_of_a_batch_and_skips_the_rest() -> None:
    body = {"object": "page", "entry": [
        {"id": "PAGE", "time": 1, "messaging": [
            {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE"},
             "message": {"mid": "m1", "text": "what's butyrate?"}},
            {"sender": {"id": "PAGE"}, "recipient": {"id": "PSID1"},
             "message": {"mid": "m2", "text": "echo", "is_echo": True}},
            {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE"},
             "delivery": {"mids": ["m0"]}},
        ]},
        {"id": "PAGE", "time": 2, "messaging": [
            {"sender": {"id": "PSID2"}, "recipient": {"id": "PAGE"},
             "message": {"mid": "m3", "text": "Prebiotics?",
                         "quick_reply": {"payload": "/prebiotics"}}},
            {"sender": {"id": "PSID3"}, "recipient": {"id": "PAGE"},
             "postback": {"mid": "m4", "title": "Book", "payload": "/book_appointment"}},
        ]},
    ]}
    found = parse_page_event(body)
    assert [(i.sender_id, i.text) for i in found] == [
        ("PSID1", "what's butyrate?"), ("PSID2", "/prebiotics"), ("PSID3", "/book_appointment")
    ]
    assert parse_page_event({"object": "instagram", "entry": []}) == []


def test_messenger_send_body_uses_quick_replies() -> None:
    body = send_body("PSID1", fmt.Reply("Pick one", (fmt.Button("1", "/diet"),)))
    assert body == {"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE",
                    "message": {"text": "Pick one", "quick_replies": [
                        {"content_type": "text", "title": "1", "payload": "/diet"}]}}


# -- Slack ---------------------------------------------------------------------------------


def slack_channel() -> ClinicSlackInput:
    return ClinicSlackInput("xoxb-test", "signing-secret")


def slack_event(**event: Any) -> Dict[str, Any]:
    return {"type": "event_callback", "event_id": "Ev1", "team_id": "T1",
            "authorizations": [{"user_id": "UBOT", "is_bot": True}],
            "event": {"ts": "1700000000.000100", "user": "U1", **event}}


def test_slack_direct_message() -> None:
    incoming = slack_channel().parse_event(
        slack_event(type="message", channel_type="im", channel="D1", text="what&apos;s &lt;IBS&gt;?"))
    assert incoming is not None
    assert (incoming.sender_id, incoming.reply_to, incoming.text) == ("U1", "D1",
                                                                      "what&apos;s <IBS>?")
    assert incoming.extra == {} and incoming.event_id == "slack:Ev1"


def test_slack_mention_is_answered_in_a_thread_without_the_mention() -> None:
    incoming = slack_channel().parse_event(
        slack_event(type="app_mention", channel="C1", text="<@UBOT> what is FMT?"))
    assert incoming is not None
    assert incoming.text == "what is FMT?" and incoming.reply_to == "C1"
    assert incoming.extra == {"thread_ts": "1700000000.000100"}


def test_slack_ignores_bots_edits_and_plain_channel_messages() -> None:
    channel = slack_channel()
    assert channel.parse_event(slack_event(type="message", channel_type="im", channel="D1",
                                           text="hi", bot_id="B1")) is None
    assert channel.parse_event(slack_event(type="message", channel_type="im", channel="D1",
                                           text="hi", subtype="message_changed")) is None
    assert channel.parse_event(slack_event(type="message", channel_type="channel",
                                           channel="C1", text="<@UBOT> hi")) is None


def test_slack_button_tap() -> None:
    incoming = slack_channel().parse_interaction({
        "type": "block_actions", "user": {"id": "U1"}, "channel": {"id": "D1"},
        "trigger_id": "t-1", "container": {"type": "message"},
        "actions": [{"type": "button", "action_id": "option-2", "value": "/prebiotics"}],
    })
    assert incoming is not None
    assert (incoming.sender_id, incoming.text, incoming.reply_to) == ("U1", "/prebiotics", "D1")


def test_slack_text_is_escaped_and_links_are_clickable() -> None:
    assert escape_mrkdwn("Name: <!channel> & co (https://doi.org/10.3390/nu14102081).") == (
        "Name: &lt;!channel&gt; &amp; co (<https://doi.org/10.3390/nu14102081>).")


def test_slack_post_has_sections_within_3000_and_buttons() -> None:
    reply = fmt.Reply("A sentence. " * 400, (fmt.Button("What are prebiotics?", "/prebiotics"),))
    arguments = post_arguments(reply)
    sections = [b for b in arguments["blocks"] if b["type"] == "section"]
    assert len(sections) >= 2 and all(len(s["text"]["text"]) <= 3000 for s in sections)
    actions = arguments["blocks"][-1]
    assert actions["elements"][0]["value"] == "/prebiotics"


# -- the shared turn -----------------------------------------------------------------------


class RecordingChannel(MessagingInput):
    """A channel that records what it would send, run without a server."""

    @classmethod
    def name(cls) -> str:
        return "recording"

    def __init__(self) -> None:
        self._init_pipeline(turn_timeout=1)
        self.sent: List[List[fmt.Reply]] = []

    async def deliver(self, incoming: Incoming, replies: List[fmt.Reply]) -> None:
        self.sent.append(replies)


def app_with_tracker(tracker: Optional[DialogueStateTracker]) -> Any:
    async def retrieve(sender_id: str) -> Optional[DialogueStateTracker]:
        return tracker

    store = SimpleNamespace(retrieve=retrieve)
    return SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))


def sms(text: str) -> Incoming:
    return Incoming(sender_id="+14035550100", text=text, reply_to="+14035550100", profile="sms")


def test_a_failing_assistant_still_answers_with_the_apology() -> None:
    async def broken(message: UserMessage) -> None:
        raise ConnectionError("action server down")

    channel = RecordingChannel()
    asyncio.run(channel.handle_turn(sms("hello"), broken, app_with_tracker(None)))
    assert len(channel.sent) == 1
    assert "Sorry" in channel.sent[0][0].text


def test_a_number_is_turned_into_the_payload_of_that_option() -> None:
    tracker = DialogueStateTracker.from_events("+14035550100", [
        UserUttered("what's butyrate?"),
        BotUttered("Butyrate...", data={"buttons": [
            {"title": "Can diet change my gut bacteria?", "payload": "/diet"},
            {"title": "What are prebiotics?", "payload": "/prebiotics"}]}),
    ])
    seen: List[UserMessage] = []

    async def assistant(message: UserMessage) -> None:
        seen.append(message)
        await message.output_channel.send_response(
            message.sender_id or "", {"text": "Prebiotics feed bacteria.",
                                      "custom": {"topic": "prebiotics"}})

    channel = RecordingChannel()
    asyncio.run(channel.handle_turn(sms("2"), assistant, app_with_tracker(tracker)))
    assert seen[0].text == "/prebiotics"
    assert seen[0].metadata == {"channel": "sms", "option": {"number": 2,
                                                             "title": "What are prebiotics?"}}
    assert channel.sent[0][0].text == "Prebiotics feed bacteria."


def test_a_number_without_offered_options_is_passed_on_as_typed() -> None:
    seen: List[str] = []

    async def assistant(message: UserMessage) -> None:
        seen.append(message.text or "")
        await message.output_channel.send_response("x", {"text": "ok"})

    channel = RecordingChannel()
    asyncio.run(channel.handle_turn(sms("2"), assistant, app_with_tracker(None)))
    assert seen == ["2"]


def test_a_quick_number_waits_for_the_turn_that_offered_the_options() -> None:
    """Turns of one sender run in order, so "2" sent before the answer arrived still works."""
    events: List[Any] = []
    seen: List[str] = []

    async def slow_assistant(message: UserMessage) -> None:
        seen.append(message.text or "")
        events.append(UserUttered(message.text))
        if message.text == "what's butyrate?":
            await asyncio.sleep(0.2)
            buttons = [{"title": "Diet?", "payload": "/diet"},
                       {"title": "Prebiotics?", "payload": "/prebiotics"}]
            events.append(BotUttered("Butyrate...", data={"buttons": buttons}))
            await message.output_channel.send_response("x", {"text": "Butyrate...",
                                                             "buttons": buttons})
        else:
            await message.output_channel.send_response("x", {"text": "ok"})

    class LiveStore:
        async def retrieve(self, sender_id: str) -> DialogueStateTracker:
            return DialogueStateTracker.from_events(sender_id, list(events))

    app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=LiveStore())))
    channel = RecordingChannel()

    async def both() -> None:
        first = asyncio.ensure_future(channel.handle_turn(sms("what's butyrate?"),
                                                          slow_assistant, app))
        await asyncio.sleep(0)
        await asyncio.gather(first, channel.handle_turn(sms("2"), slow_assistant, app))

    asyncio.run(both())
    assert seen == ["what's butyrate?", "/prebiotics"]
    assert [replies[0].text.split("\n")[0] for replies in channel.sent] == ["Butyrate...", "ok"]
