"""Client metadata outside the allow-list is not stored (issue 16, item 4)."""

from __future__ import annotations

import json
import uuid

from tests.e2e.conftest import Assistant


def test_metadata_outside_the_allow_list_is_not_stored(assistant: Assistant) -> None:
    sender = f"meta-{uuid.uuid4().hex}"
    metadata = {"model_id": "spoofed-model", "email": "someone@example.com",
                "phone": "403-555-0199", "channel": "sms",
                "option": {"number": 1, "title": "Book"}, "nested": {"name": "Jane Roe"}}
    status, answer = assistant.post(
        json.dumps({"sender": sender, "message": "hello", "metadata": metadata}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200 and answer
    events = assistant.stored_event_data(sender)
    user = [e for e in events if e.get("event") == "user"]
    assert user, events
    stored = json.dumps(events)
    for value in ("someone@example.com", "403-555-0199", "Jane Roe", "spoofed-model"):
        assert value not in stored, value
    # REST may send none of the channel keys by default; Rasa's own model id is kept
    assert set(user[0].get("metadata") or {}) <= {"model_id", "assistant_id"}
    assert user[0]["metadata"].get("model_id") not in (None, "spoofed-model")
