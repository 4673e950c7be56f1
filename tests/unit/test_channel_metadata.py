"""The metadata allow-list (bot.channels.metadata)."""

from __future__ import annotations

from bot.channels.metadata import keep_allowed


def test_only_allow_listed_keys_in_their_shape_are_kept() -> None:
    sent = {"channel": "sms", "option": {"number": 2, "title": "Book", "x": "y"},
            "model_id": "spoofed", "email": "a@b.example"}
    assert keep_allowed(sent) == {"channel": "sms", "option": {"number": 2, "title": "Book"}}


def test_wrong_shapes_and_unlisted_keys_are_dropped() -> None:
    assert keep_allowed({"channel": "evil", "option": {"number": True, "title": "t"}}) is None
    assert keep_allowed({"option": {"number": 3, "title": ["x"]}}) is None
    assert keep_allowed("not a mapping") is None
    assert keep_allowed({"channel": "sms"}, keys=[]) is None
