"""Turns only from the clinic's pages (issue 16, item 2), against the running servers.

A page on another site could post a turn with ``fetch(..., {mode: "no-cors"})``, which sends
``text/plain`` or a form without a preflight; the webhook now takes JSON only and refuses a
browser's ``Origin`` that is not configured. Nothing of a refused request is stored.
"""

from __future__ import annotations

import json
import uuid

from tests.e2e.conftest import Assistant

ALLOWED = "http://127.0.0.1:8080"  # the demo page's origin, allowed when CORS_ORIGINS is unset


def body(sender: str) -> bytes:
    return json.dumps({"sender": sender, "message": "I would like to book an appointment"}).encode()


def test_text_plain_and_form_bodies_are_refused_and_nothing_is_stored(
    assistant: Assistant,
) -> None:
    for content_type in ("text/plain", "text/plain;charset=UTF-8",
                         "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        sender = f"plain-{uuid.uuid4().hex}"
        status, answer = assistant.post(body(sender), {"Content-Type": content_type})
        assert status == 415, (content_type, answer)
        assert "application/json" in answer["error"]
        assert assistant.stored_events(sender) == 0, content_type
    sender = f"no-type-{uuid.uuid4().hex}"
    status, _ = assistant.post(body(sender), {})
    assert status == 415 and assistant.stored_events(sender) == 0


def test_a_foreign_origin_is_refused_and_nothing_is_stored(assistant: Assistant) -> None:
    for origin in ("https://evil.example", "null", "http://127.0.0.1:8081", ALLOWED + ".evil.example"):
        sender = f"foreign-{uuid.uuid4().hex}"
        status, answer = assistant.post(
            body(sender), {"Content-Type": "application/json", "Origin": origin})
        assert status == 403, (origin, answer)
        assert "clinic's own pages" in answer["error"]
        assert assistant.stored_events(sender) == 0, origin


def test_the_clinics_origin_and_requests_without_origin_still_work(assistant: Assistant) -> None:
    for headers in ({"Content-Type": "application/json", "Origin": ALLOWED},
                    {"Content-Type": "application/json; charset=utf-8"}):
        sender = f"ok-{uuid.uuid4().hex}"
        status, answer = assistant.post(body(sender), headers)
        assert status == 200, answer
        assert answer and all(m["recipient_id"] == sender for m in answer)
        assert assistant.stored_events(sender) > 0
