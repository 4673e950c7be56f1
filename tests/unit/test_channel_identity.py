"""Keyed conversation ids and the migration of raw channel ids (bot.channels.identity)."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.channels import identity


def test_keyed_ids_are_namespaced_stable_and_depend_on_the_key() -> None:
    one = identity.conversation_id("twilio", "+14035550101", b"k" * 32)
    assert one.startswith("twilio:") and len(one) == len("twilio:") + 64
    assert one == identity.conversation_id("twilio", "+14035550101", b"k" * 32)
    assert one != identity.conversation_id("twilio", "+14035550101", b"j" * 32)
    assert one != identity.conversation_id("telegram", "+14035550101", b"k" * 32)
    assert "4035550101" not in one


def test_rest_ids_in_a_channel_namespace_are_recognised() -> None:
    for sender in ("twilio:abc", "Telegram:1", " slack:U1", "facebook:x"):
        assert identity.is_channel_id(sender)
    for sender in ("web-abc", "+14035550101", "doctor:who", "twilio"):
        assert not identity.is_channel_id(sender)


def test_a_key_file_is_made_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "sender-id.key"
    key = identity.channel_key({identity.KEY_FILE_ENV: str(path)})
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    identity._file_key.cache_clear()
    assert identity.channel_key({identity.KEY_FILE_ENV: str(path)}) == key


def test_a_short_key_in_the_environment_is_refused() -> None:
    with pytest.raises(RuntimeError, match="at least"):
        identity.channel_key({identity.KEY_ENV: "short"})


def test_migration_moves_only_channel_conversations(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, "
                           "type_name TEXT, timestamp REAL, intent_name TEXT, "
                           "action_name TEXT, data TEXT)")
        for sender, channel in (("+14035550101", "twilio"), ("web-1", "rest"),
                                ("12345", "telegram")):
            connection.execute("INSERT INTO events (sender_id, type_name, data) VALUES (?,?,?)",
                               (sender, "user", json.dumps({"input_channel": channel})))
    env = {identity.KEY_ENV: "a-test-key-of-enough-length"}
    assert identity.migrate_tracker(f"sqlite:///{path}", environ=env) == ["telegram", "twilio"]
    key = env[identity.KEY_ENV].encode()
    with sqlite3.connect(path) as connection:
        senders = {row[0] for row in connection.execute("SELECT sender_id FROM events")}
    assert senders == {"web-1", identity.conversation_id("twilio", "+14035550101", key),
                       identity.conversation_id("telegram", "12345", key)}
    assert identity.migrate_tracker(f"sqlite:///{path}", environ=env) == []
