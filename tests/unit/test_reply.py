"""One structured reply (bot/reply.py), and crisis lines only from config/clinic.yml."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Dict, List

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import ActionAskBookingReason
from actions.safety import ActionCrisis
from bot.channels import format as fmt
from bot.reply import LAYOUT_KEYS, Reply, from_message, text_only, to_message
from bot.safety import crisis_reply
from bot.settings import PROJECT_ROOT, get_settings, load_settings
from bot.web.server import render_demo_page, widget_settings
from tests.conftest import make_tracker

# Where crisis numbers were once typed; each must read them from the settings instead.
NO_CRISIS_NUMBERS = (
    "domain.yml",
    "config/messages.yml",
    "bot/web/static/clinic-chat.js",
    "bot/web/static/demo.html",
)
RESOURCES = [
    {"name": "Line A", "phone": "988", "when": "Call or text."},
    {"name": "Line B", "phone": "911", "when": "In danger."},
]


def crisis_numbers() -> List[str]:
    return [r.phone for r in load_settings(PROJECT_ROOT / "config" / "clinic.yml").crisis_resources]


@pytest.mark.parametrize("path", NO_CRISIS_NUMBERS)
def test_no_crisis_number_is_typed_outside_the_settings(path: str) -> None:
    text = (PROJECT_ROOT / path).read_text(encoding="utf-8")
    found = [number for number in crisis_numbers()
             if re.search(rf"(?<![\w-]){re.escape(number)}(?![\w-])", text)]
    assert found == [], f"{path} types crisis numbers {found}; use the settings (clinic.yml)"


def test_the_number_check_would_see_a_typed_number() -> None:
    numbers = crisis_numbers()
    assert {"911", "988"} <= set(numbers)
    pattern = rf"(?<![\w-]){re.escape('911')}(?![\w-])"
    assert re.search(pattern, "for an emergency call 911.")
    assert not re.search(pattern, "call 911-555-0142 or 1911")


def test_templates_name_the_settings_emergency_and_crisis_lines() -> None:
    values = get_settings().template_values()
    assert (values["emergency_phone"], values["crisis_phone"]) == ("911", "988")
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    greet = domain["responses"]["utter_greet"][0]["text"]
    assert "{emergency_phone}" in greet and "{crisis_phone}" in greet


def test_a_reply_is_one_message_with_text_and_payload() -> None:
    reply = Reply.of("scfa", "Butyrate is a fatty acid.", source="Source: the article.",
                     citations=[{"kind": "paper", "doi": "10.1/x"}],
                     buttons=[{"title": "Book", "payload": "/book_appointment"}], step="x")
    message = to_message(reply)
    assert message["text"] == "Butyrate is a fatty acid.\nSource: the article."
    assert message["buttons"] == [{"title": "Book", "payload": "/book_appointment"}]
    custom = message["json_message"]
    assert {k: v for k, v in custom.items() if k not in LAYOUT_KEYS} == {
        "topic": "scfa", "step": "x", "citations": [{"kind": "paper", "doi": "10.1/x"}]}
    again = from_message({"text": message["text"], "custom": custom})
    assert again == reply


def test_crisis_lines_follow_the_lead_in_in_every_text() -> None:
    reply = Reply.of("crisis", "Please reach out:", "Take care.", resources=RESOURCES)
    assert text_only(reply) == ("Please reach out:\n- Line A: 988. Call or text.\n"
                                "- Line B: 911. In danger.\nTake care.")
    sent = {"text": text_only(reply), "custom": reply.payload()}
    assert fmt.render_turn([sent], fmt.PROFILES["sms"])[0].text == text_only(reply)


def test_the_crisis_action_sends_every_crisis_line_of_the_settings_in_one_message() -> None:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionCrisis().run(dispatcher, make_tracker("crisis", "help"), {}))
    assert len(dispatcher.messages) == 1
    [message] = dispatcher.messages
    for resource in get_settings().crisis_resources:
        assert f"{resource.name}: {resource.phone}." in message["text"]
    assert message["custom"]["resources"] == [r.as_dict() for r in get_settings().crisis_resources]
    assert message["text"] == crisis_reply().text


def test_the_reason_question_names_the_emergency_number_from_the_settings() -> None:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskBookingReason().run(dispatcher, make_tracker("inform", "x"), {}))
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_booking_reason"
    assert message["emergency_phone"] == get_settings().template_values()["emergency_phone"]


def test_the_widget_and_the_demo_page_get_the_crisis_lines_from_the_settings() -> None:
    settings: Dict[str, Any] = widget_settings()
    assert settings["crisis_resources"] == [r.as_dict() for r in get_settings().crisis_resources]
    assert (settings["emergency_phone"], settings["crisis_phone"]) == ("911", "988")
    page, _policy = render_demo_page("http://127.0.0.1:5005")
    assert "In an emergency call\n            911, or call or text 988." in page
    assert "{{" not in page


def test_the_widget_never_takes_a_reply_text_apart() -> None:
    script = (PROJECT_ROOT / "bot/web/static/clinic-chat.js").read_text(encoding="utf-8")
    assert "Source:" not in script
    assert "custom.parts" in script
