"""Conversation ids that cannot be guessed, and votes that cannot be spoofed (issue 16, 3).

In Chromium against the real servers: the widget's sender id is 128 bits from
``crypto.getRandomValues``; without ``crypto`` it says it cannot start and sends nothing. A
vote naming someone else's conversation, from another site or for an answer that
conversation never got, is refused and never reaches the staff inbox.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from bot.web.feedback import feedback_for
from tests.browser.conftest import Site
from tests.browser.test_widget import QUESTION, assert_no_script_errors, open_demo

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402


def test_the_widgets_id_is_128_random_bits(site: Site, new_page: Any) -> None:
    senders = set()
    for _ in range(2):
        page, watch = new_page()
        chat = open_demo(page, site)
        chat.open()
        chat.wait_for_greeting()
        senders.add(chat.sender())
        assert_no_script_errors(watch)
    assert len(senders) == 2
    assert all(re.fullmatch(r"web-[0-9a-f]{32}", sender) for sender in senders), senders


def test_without_crypto_the_widget_says_it_cannot_start(site: Site, new_page: Any) -> None:
    page, _watch = new_page()
    page.add_init_script("Object.defineProperty(window, 'crypto', {value: undefined});")
    turns: list[str] = []
    page.on("request", lambda r: turns.append(r.url) if "/webhooks/rest" in r.url else None)
    page.goto(site.web_url + "/")
    notice = page.locator(".cc-unavailable")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("cannot start")
    expect(page.locator(".cc-launcher")).to_have_count(0)
    page.wait_for_timeout(500)
    assert turns == []


def vote(site: Site, body: dict[str, Any], origin: str | None) -> int:
    headers = {"Content-Type": "application/json", **({"Origin": origin} if origin else {})}
    request = urllib.request.Request(site.web_url + "/feedback", data=json.dumps(body).encode(),
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_spoofed_vote_is_refused(site: Site) -> None:
    victim = f"web-{uuid.uuid4().hex}"
    answer = "\n".join(m["text"] for m in site.assistant.send(victim, QUESTION) if m.get("text"))
    real = {"sender": victim, "value": "down", "topic": "scfa", "message_index": 1,
            "message": answer}
    assert vote(site, real, "https://evil.example") == 403
    assert vote(site, {**real, "message": "anything at all"}, None) == 404
    assert vote(site, {**real, "message": "anything at all"}, site.web_url) == 404
    assert vote(site, {k: v for k, v in real.items() if k != "message"}, site.web_url) == 400
    assert vote(site, {**real, "sender": f"web-{uuid.uuid4().hex}"}, site.web_url) == 404
    assert feedback_for(victim, site.database_url) == []
    # the person themself, from the clinic's page, is heard
    assert vote(site, real, site.web_url) == 201
    assert [row["value"] for row in feedback_for(victim, site.database_url)] == ["down"]
