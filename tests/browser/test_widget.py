"""The chat widget in a real browser (Debian's Chromium), against the real servers.

Each test does what a visitor of the clinic's site would do and checks what they would see.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.deploy.serve import free_port
from bot.settings import get_settings
from bot.web.feedback import feedback_for, text_hash
from tests.browser.conftest import PageWatch, Site

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

QUESTION = "what is butyrate?"
MARKUP = "<img src=x onerror=alert(1)>"
DOI_LINK = "https://doi.org/10.3390/nu14102081"


class Chat:
    """The widget on a page, driven the way a person drives it."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.launcher = page.locator(".cc-launcher")
        self.panel = page.locator(".cc-panel")
        self.input = page.locator("#cc-input")
        self.log = page.locator(".cc-log")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()

    def answers(self) -> Any:
        return self.log.locator(".cc-turn-bot")

    def ask(self, text: str, topic: str | None = None) -> Any:
        """Type ``text``, press Enter, wait for the answer to it; the answer's locator."""
        before = self.answers().count()
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.log.locator(".cc-user").last).to_have_text(re.compile(re.escape(text)))
        expect(self.answers()).to_have_count(before + 1)
        answer = self.answers().last
        if topic:
            expect(answer).to_have_attribute("data-topic", topic)
        return answer

    def wait_for_greeting(self) -> None:
        expect(self.answers().first).to_be_visible()

    def sender(self) -> str:
        return str(self.page.evaluate(
            "() => JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage)"
            ".find(k => k.startsWith('clinic-chat:')))).sender"
        ))


def open_demo(page: Any, site: Site) -> Chat:
    page.goto(site.web_url + "/")
    expect(page.locator(".cc-launcher")).to_be_visible()
    return Chat(page)


def assert_no_script_errors(watch: PageWatch) -> None:
    assert watch.dialogs == []
    assert watch.errors == []


def test_keyboard_only_question_gets_an_answer_with_sources(
    site: Site, new_page: Any, screenshots: Path
) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)

    for _ in range(80):  # Tab through the clinic page until the launcher has the focus
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('cc-launcher')"):
            break
    else:
        pytest.fail("the launcher is never reached with Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "the focused launcher shows no focus ring"

    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    expect(chat.input).to_be_focused()
    expect(chat.log).to_have_attribute("role", "log")
    expect(chat.log).to_have_attribute("aria-live", "polite")
    chat.wait_for_greeting()

    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator(".cc-typing")).to_be_visible()
    expect(chat.log.locator(".cc-user").last).to_contain_text(QUESTION)
    answer = chat.answers().nth(1)
    expect(answer).to_have_attribute("data-topic", "scfa")
    expect(answer.locator(".cc-bubble").first).to_contain_text("fatty acids")
    sources = answer.locator(".cc-sources")
    expect(sources).to_contain_text("Sources")
    if not sources.evaluate("node => node.open"):  # closed when it would not fit the window
        sources.locator("summary").focus()
        page.keyboard.press("Enter")  # opens from the keyboard
    expect(sources.locator(f'a[href="{DOI_LINK}"]').first).to_be_visible()
    article = sources.locator(".cc-source-article a").first
    expect(article).to_have_attribute("href", re.compile(r"^https?://"))
    expect(sources.locator(".cc-quote").first).to_contain_text("short-chain fatty acids")
    expect(page.locator(".cc-typing")).to_be_hidden()
    page.screenshot(path=str(screenshots / "widget-desktop.png"))

    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    expect(chat.launcher).to_be_focused()
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    assert_no_script_errors(watch)


def test_button_follow_up_then_reload_keeps_the_conversation(site: Site, new_page: Any) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    first = chat.ask(QUESTION, topic="scfa")

    chip = first.locator(".cc-chip").filter(has_not_text="Book").first
    title = chip.inner_text().strip()
    chip.click()
    expect(chat.log.locator(".cc-user").last).to_have_text(re.compile(re.escape(title)))
    follow_up = chat.answers().nth(2)
    expect(follow_up.locator(".cc-sources a").first).to_be_attached()
    topic = follow_up.get_attribute("data-topic")
    assert topic and topic != "scfa", f"the button {title!r} did not lead to a new topic"

    sender = chat.sender()
    texts_before = chat.log.inner_text()
    page.reload()
    chat = Chat(page)
    expect(chat.panel).to_be_visible()  # it was open before the reload
    expect(chat.log.locator(".cc-user")).to_have_count(2)
    expect(chat.log.locator(".cc-user").first).to_contain_text(QUESTION)
    expect(chat.log.locator(".cc-user").last).to_contain_text(title)
    expect(chat.answers()).to_have_count(3)
    assert chat.log.inner_text() == texts_before
    assert chat.sender() == sender

    chat.ask("what are prebiotics?")  # the conversation goes on with the same sender
    assert chat.sender() == sender
    assert_no_script_errors(watch)


def test_markup_typed_by_the_person_is_shown_as_text(site: Site, new_page: Any) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    chat.ask(MARKUP)

    bubble = chat.log.locator(".cc-user").last
    assert MARKUP in bubble.inner_text()
    assert page.locator(".cc-root img").count() == 0
    assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
    page.wait_for_timeout(500)
    assert_no_script_errors(watch)


def test_markup_from_the_server_is_shown_as_text_and_only_safe_links(
    site: Site, new_page: Any
) -> None:
    page, watch = new_page()
    reply = [
        {"recipient_id": "x", "text": "<img src=x onerror=alert(2)> see javascript:alert(3)",
         "buttons": [{"title": "<b>bold</b>", "payload": "/greet"}]},
        {"recipient_id": "x", "custom": {
            "topic": "crisis",
            "resources": [{"name": "<i>Line</i>", "phone": "988", "when": "any time"}],
            "citations": [{"kind": "article", "title": "<script>alert(4)</script>",
                           "url": "javascript:alert(5)", "quote": "<u>quoted</u>"}]}},
    ]
    page.route("**/webhooks/rest/webhook", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(reply),
        headers={"Access-Control-Allow-Origin": "*"}))
    chat = open_demo(page, site)
    chat.open()
    answer = chat.answers().first
    expect(answer.locator(".cc-bubble")).to_contain_text("<img src=x onerror=alert(2)>")
    expect(answer.locator(".cc-chip")).to_have_text("<b>bold</b>")
    expect(answer.locator(".cc-crisis")).to_contain_text("<i>Line</i>")
    expect(answer.locator(".cc-source")).to_contain_text("<script>alert(4)</script>")
    expect(answer.locator(".cc-quote")).to_contain_text("<u>quoted</u>")
    expect(answer.locator('a.cc-call[href="tel:988"]')).to_be_visible()
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs and all(re.match(r"^(https?|tel):", href) for href in hrefs), hrefs
    for tag in ("img", "b", "i", "u", "script"):
        assert answer.locator(tag).count() == 0, tag
    page.wait_for_timeout(500)
    assert watch.dialogs == []


def test_crisis_reply_is_prominent_with_phone_links(site: Site, new_page: Any) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    answer = chat.ask("i want to kill myself", topic="crisis")
    crisis = answer.locator(".cc-crisis")
    expect(crisis).to_be_visible()
    expect(crisis.locator('a[href="tel:988"]')).to_be_visible()
    expect(crisis.locator('a[href="tel:911"]')).to_be_visible()
    expect(crisis.locator('a[href="tel:18773032642"]')).to_be_visible()
    first_child = answer.evaluate("turn => turn.firstElementChild.className")
    assert "cc-crisis" in first_child, "the crisis lines come before anything else"
    assert_no_script_errors(watch)


def test_crisis_lines_and_answer_text_come_from_the_settings_and_the_reply(
    site: Site, new_page: Any
) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    values = get_settings().template_values()
    emergency, crisis = values["emergency_phone"], values["crisis_phone"]
    disclaimer = page.locator(".cc-disclaimer")
    expect(disclaimer).to_have_text(f"Not for emergencies: call {emergency}, or call or text {crisis}.")
    expect(disclaimer.locator(f'a[href="tel:{crisis}"]')).to_be_visible()
    expect(page.locator(".hero-card")).to_contain_text(f"call {emergency}, or call or text {crisis}")
    answer = chat.ask(QUESTION, topic="scfa")
    bubble = answer.locator(".cc-bubble").first
    expect(bubble).to_contain_text("fatty acids")
    expect(bubble).not_to_contain_text("Source:")  # the Sources block says it in full
    sent = [m for m in site.assistant.send("layout-check", QUESTION) if m.get("text")]
    assert "Source:" in sent[0]["text"], "REST clients still get the source line"
    assert_no_script_errors(watch)


def test_thumbs_down_is_stored_with_the_conversation(site: Site, new_page: Any) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    answer = chat.ask(QUESTION, topic="scfa")
    thumbs_down = answer.locator(".cc-thumb-down")
    thumbs_down.click()
    expect(answer.locator(".cc-feedback-status")).to_have_text(re.compile("Thanks"))
    expect(thumbs_down).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".cc-thumb-up")).to_have_attribute("aria-pressed", "false")

    rows = feedback_for(chat.sender(), site.database_url)
    assert len(rows) == 1
    row = rows[0]
    assert (row["value"], row["topic"], row["message_index"]) == ("down", "scfa", 1)
    texts = [m["text"] for m in site.assistant.send("hash-check", QUESTION) if m.get("text")]
    assert row["message_hash"] == text_hash("\n".join(texts))
    assert_no_script_errors(watch)


def test_unreachable_server_shows_an_error_and_retry_resends(
    site: Site, new_page: Any
) -> None:
    page, _watch = new_page()
    dead = f"http://127.0.0.1:{free_port()}"
    test_page = site.web_url + "/offline-test.html"
    page.route(test_page, lambda route: route.fulfill(content_type="text/html", body=(
        "<!doctype html><html lang=en><title>offline</title><body><h1>Offline test</h1>"
        "<script>window.ClinicChatConfig = {greeting: 'Hello from the test page'};</script>"
        f'<script src="/static/clinic-chat.js" data-server="{dead}"></script></body></html>'
    )))
    attempts: list[str] = []
    page.on("request", lambda request: attempts.append(request.url)
            if request.url.startswith(dead) and request.method == "POST" else None)
    page.goto(test_page)
    chat = Chat(page)
    chat.open()
    expect(chat.answers().first).to_contain_text("Hello from the test page")

    chat.input.fill(QUESTION)
    chat.input.press("Enter")
    error = chat.log.locator(".cc-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_contain_text("couldn\u2019t reach the assistant")
    retry = error.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    assert len(attempts) == 1

    retry.click()
    expect(chat.log.locator(".cc-error").get_by_role("button", name="Retry")).to_be_visible()
    assert len(attempts) == 2, "Retry sent the message again"
    expect(chat.log.locator(".cc-user")).to_have_count(1)


def test_retry_after_a_failed_send_gets_the_answer(site: Site, new_page: Any) -> None:
    page, _watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    page.route("**/webhooks/rest/webhook", lambda route: route.abort("connectionrefused"))
    chat.input.fill(QUESTION)
    chat.input.press("Enter")
    retry = chat.log.locator(".cc-error").get_by_role("button", name="Retry")
    expect(retry).to_be_visible()

    page.unroute("**/webhooks/rest/webhook")
    retry.click()
    expect(chat.answers().last).to_have_attribute("data-topic", "scfa")
    expect(chat.log.locator(".cc-error")).to_have_count(0)
    expect(chat.log.locator(".cc-user")).to_have_count(1)


def test_typing_indicator_shows_while_waiting(site: Site, new_page: Any) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    held: list[Any] = []
    page.route("**/webhooks/rest/webhook", lambda route: held.append(route))
    chat.input.fill(QUESTION)
    chat.input.press("Enter")
    typing = page.locator(".cc-typing")
    expect(typing).to_be_visible()
    expect(typing).to_contain_text("typing")
    for _ in range(100):  # the route handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the question was not sent"
    held[0].continue_()
    expect(chat.answers()).to_have_count(2)
    expect(typing).to_be_hidden()
    assert_no_script_errors(watch)


def test_small_phone_width_fits_and_is_screenshotted(
    site: Site, new_page: Any, screenshots: Path
) -> None:
    page, watch = new_page(width=360, height=740, scale=2)
    chat = open_demo(page, site)
    page.screenshot(path=str(screenshots / "demo-360.png"))
    chat.open()
    chat.wait_for_greeting()
    answer = chat.ask(QUESTION, topic="scfa")
    box = chat.panel.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360
    overflow = page.evaluate(
        "() => document.querySelector('.cc-scroller').scrollWidth"
        " - document.querySelector('.cc-scroller').clientWidth"
    )
    assert overflow <= 0, "messages overflow sideways at 360 px"
    input_box = chat.input.bounding_box()
    assert input_box and input_box["y"] + input_box["height"] <= 740
    page.screenshot(path=str(screenshots / "widget-360.png"))
    answer.locator(".cc-feedback").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "widget-360-sources.png"))
    crisis = chat.ask("i want to kill myself", topic="crisis")
    crisis.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "widget-360-crisis.png"))
    assert (screenshots / "widget-360.png").stat().st_size > 10_000
    assert_no_script_errors(watch)


def test_new_chat_starts_a_new_conversation(site: Site, new_page: Any) -> None:
    page, watch = new_page()
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    chat.ask(QUESTION, topic="scfa")
    sender = chat.sender()
    page.get_by_role("button", name="Start a new conversation").click()
    page.get_by_role("button", name="Start new chat").click()
    expect(chat.log.locator(".cc-user")).to_have_count(0)
    chat.wait_for_greeting()
    expect(chat.answers()).to_have_count(1)
    assert chat.sender() != sender
    expect(chat.input).to_be_focused()
    assert_no_script_errors(watch)
