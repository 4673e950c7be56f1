"""The widget's finish on a phone (390x844) and a laptop (1280x800), in real Chromium.

Sizes a person's finger and eye depend on: 16 px input text (no zoom on focus), 44 px touch
targets, no sideways scrolling, an answer that fits the chat window, the Sources block naming
the article once, thumbs only under answers, and "New chat" that asks before it clears.
Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Site
from tests.browser.test_widget import Chat, assert_no_script_errors, open_demo

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

SIZES = [pytest.param((390, 844), id="phone-390x844"), pytest.param((1280, 800), id="desktop-1280x800")]
MIN_TARGET = 44
BOOKING = "I'd like to book an appointment"
QUESTION, TOPIC = "can diet change my gut bacteria?", "diet"

# Every control in the panel a person taps, with its size (visible ones only).
TARGETS_JS = """panel => [...panel.querySelectorAll('button, a, summary, textarea')]
  .filter(node => node.offsetParent !== null && !node.closest('.cc-sr'))
  .filter(node => !node.classList.contains('cc-inline-link') && !node.closest('.cc-source'))
  .map(node => { const box = node.getBoundingClientRect();
                 return {name: node.className || node.tagName, width: box.width, height: box.height}; })"""


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "() => [document.documentElement.scrollWidth - window.innerWidth,"
        " document.querySelector('.cc-scroller').scrollWidth"
        " - document.querySelector('.cc-scroller').clientWidth]")
    assert max(overflow) <= 0, f"content scrolls sideways by {overflow} px"


@pytest.mark.parametrize("size", SIZES)
def test_sizes_fit_a_finger_and_the_screen(site: Site, new_page: Any, screenshots: Path,
                                           size: tuple) -> None:
    width, height = size
    phone = width < 480
    page, watch = new_page(width=width, height=height, scale=2 if phone else 1)
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    font = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#cc-input')).fontSize)")
    assert font >= 16, f"the input's text is {font} px: iPhone Safari zooms in below 16 px"

    answer = chat.ask(QUESTION, topic=TOPIC)
    sources = answer.locator(".cc-sources")
    summary = sources.locator("summary")
    expect(summary).to_have_text(re.compile(r"^Sources \(\d+\)$"))
    # the article is named once, its quotes beneath it
    expect(sources.locator(".cc-source-article")).to_have_count(1)
    expect(sources.locator(".cc-source-article .cc-source-title")).to_have_count(1)
    quotes = sources.locator(".cc-source-article .cc-quote")
    count = int(re.findall(r"\d+", summary.inner_text())[0])
    assert count == quotes.count() + sources.locator(".cc-source-paper").count()

    if phone:
        assert sources.evaluate("node => node.open") is False, "Sources is open on a phone"
        expect(quotes.first).to_be_hidden()
        summary_box = summary.bounding_box()
        assert summary_box and summary_box["height"] >= MIN_TARGET
    elif sources.evaluate("node => node.open"):
        expect(quotes.first).to_be_visible()
    else:  # closed on a wide screen only because the open block would not fit the window
        summary.click()
        expect(quotes.first).to_be_visible()
        assert answer.bounding_box()["height"] > page.locator(".cc-scroller").bounding_box()["height"]
        page.screenshot(path=str(screenshots / f"polish-{width}x{height}-sources-open.png"))
        summary.click()
        expect(quotes.first).to_be_hidden()
    page.screenshot(path=str(screenshots / f"polish-{width}x{height}-answer.png"))
    answer_box = answer.bounding_box()
    scroller = page.locator(".cc-scroller").bounding_box()
    assert answer_box and scroller
    assert answer_box["height"] <= scroller["height"], (
        f"the answer is {answer_box['height']:.0f} px tall in a {scroller['height']:.0f} px window")
    _no_sideways_scroll(page)

    small = [t for t in chat.panel.evaluate(TARGETS_JS)
             if t["height"] < MIN_TARGET or t["width"] < MIN_TARGET]
    assert not small, f"touch targets under {MIN_TARGET} px: {small}"
    answer.locator(".cc-feedback").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"polish-{width}x{height}-answer-end.png"))

    if phone:
        summary.click()
        expect(quotes.first).to_be_visible()
        _no_sideways_scroll(page)
        page.screenshot(path=str(screenshots / f"polish-{width}x{height}-sources-open.png"))
    assert (screenshots / f"polish-{width}x{height}-answer.png").stat().st_size > 10_000
    assert_no_script_errors(watch)


def test_thumbs_only_under_answers_to_questions(site: Site, new_page: Any) -> None:
    page, watch = new_page(width=390, height=844, scale=2)
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    expect(chat.answers().first.locator(".cc-feedback")).to_have_count(0)  # the greeting
    answer = chat.ask(QUESTION, topic=TOPIC)
    expect(answer.locator(".cc-feedback button")).to_have_count(2)
    booking = chat.ask(BOOKING, topic="booking")
    expect(booking.locator(".cc-feedback")).to_have_count(0)
    assert_no_script_errors(watch)


@pytest.mark.parametrize("size", SIZES)
def test_new_chat_asks_before_it_clears(site: Site, new_page: Any, screenshots: Path,
                                        size: tuple) -> None:
    width, height = size
    page, watch = new_page(width=width, height=height)
    chat = open_demo(page, site)
    chat.open()
    chat.wait_for_greeting()
    chat.ask(QUESTION, topic=TOPIC)
    sender = chat.sender()
    restart = page.get_by_role("button", name="Start a new conversation")
    close = page.locator(".cc-close")
    gap = close.bounding_box()["x"] - (restart.bounding_box()["x"] + restart.bounding_box()["width"])
    assert gap >= 8, f"New chat is {gap:.0f} px from x"

    restart.click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("cleared")
    expect(page.get_by_role("button", name="Start new chat")).to_be_focused()
    page.screenshot(path=str(screenshots / f"polish-{width}x{height}-new-chat.png"))
    page.get_by_role("button", name="Keep this chat").click()
    expect(confirm).to_be_hidden()
    expect(chat.log.locator(".cc-user")).to_have_count(1)
    assert chat.sender() == sender

    restart.click()
    page.keyboard.press("Escape")  # Escape closes the question, not the chat
    expect(confirm).to_be_hidden()
    expect(chat.panel).to_be_visible()
    expect(chat.log.locator(".cc-user")).to_have_count(1)

    restart.click()
    page.get_by_role("button", name="Start new chat").click()
    expect(chat.log.locator(".cc-user")).to_have_count(0)
    chat.wait_for_greeting()
    assert Chat(page).sender() != sender
    assert_no_script_errors(watch)
