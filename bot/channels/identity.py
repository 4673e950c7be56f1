"""Conversation ids that cannot be borrowed (issue 16, item 3).

A messaging channel knows a person by a phone number (Twilio), a chat id (Telegram), a
page-scoped id (Messenger) or a Slack user. Used as Rasa's sender id, anyone who knows the
number could name that conversation over REST. So each channel's conversation id is
``<channel>:`` + an HMAC-SHA256 of the channel's id, keyed with a secret: ``SENDER_ID_KEY``
from the environment (production: a Kubernetes secret, the same for every replica), else
``var/keys/sender-id.key``, generated once (0600) by the first process that needs it.
Replies still go to the channel's own id; only the stored conversation is keyed.

The REST channel refuses a sender id in a channel's namespace (``twilio:...``), so no REST
client can reach a channel's conversation, and :func:`migrate_tracker` renames the
conversations stored under a channel's raw id before this change (run at start-up).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from bot.settings import environment

logger = logging.getLogger(__name__)

KEY_ENV = "SENDER_ID_KEY"
KEY_FILE_ENV = "SENDER_ID_KEY_FILE"
MIN_KEY_BYTES = 16
# Rasa's input channel names of the messaging channels (InputChannel.name()).
CHANNELS = ("twilio", "telegram", "facebook", "slack")


def channel_key(environ: Optional[Mapping[str, str]] = None) -> bytes:
    """The HMAC key: ``SENDER_ID_KEY``, or the key file (made, 0600, when missing)."""
    env = environment(environ)
    given = (env.sender_id_key or "").strip()
    if given:
        if len(given.encode()) < MIN_KEY_BYTES:
            raise RuntimeError(f"{KEY_ENV} must be at least {MIN_KEY_BYTES} characters.")
        return given.encode()
    return _file_key(str(env.sender_id_key_file))


@lru_cache(maxsize=4)
def _file_key(name: str) -> bytes:
    path = Path(name)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another server made it at the same moment: read theirs
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            logger.info("generated the conversation-id key %s", path)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_KEY_BYTES:
        raise RuntimeError(f"{path} holds no usable key; delete it or set {KEY_ENV}.")
    return key.encode()


def conversation_id(channel: str, raw_id: str, key: Optional[bytes] = None) -> str:
    """The sender id Rasa stores a channel's conversation under."""
    digest = hmac.new(key or channel_key(), f"{channel}:{raw_id}".encode(), hashlib.sha256)
    return f"{channel}:{digest.hexdigest()}"


def is_channel_id(sender_id: str) -> bool:
    """True for an id in a messaging channel's namespace (refused over REST)."""
    prefix, colon, _rest = sender_id.partition(":")
    return bool(colon) and prefix.strip().lower() in CHANNELS


def _legacy_conversations(connection: Any, events: Any) -> Dict[str, str]:
    """Raw sender id -> channel, for conversations a channel stored under the raw id."""
    import sqlalchemy as sa

    found: Dict[str, str] = {}
    query = sa.select(events.c.sender_id, events.c.data).where(events.c.type_name == "user")
    for sender_id, data in connection.execute(query):
        if sender_id in found or is_channel_id(sender_id):
            continue
        try:
            channel = json.loads(data).get("input_channel")
        except (TypeError, ValueError):
            continue
        if channel in CHANNELS:
            found[sender_id] = channel
    return found


def migrate_tracker(tracker_url: str, clinic_url: Optional[str] = None,
                    environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """Rename each channel conversation stored under its raw id to its keyed id.

    The tracker's events, and the feedback and booking rows that name the conversation in
    the clinic database, move together; run again, it finds nothing. Returns the channels
    of the conversations moved (never the ids: they are phone numbers).
    """
    import sqlalchemy as sa

    from bot.schema import TRACKER_EVENTS as EVENTS

    engine = sa.create_engine(tracker_url)
    try:
        if not sa.inspect(engine).has_table("events"):
            return []
        with engine.begin() as connection:
            legacy = _legacy_conversations(connection, EVENTS)
            key = channel_key(environ) if legacy else b""
            renames = {old: conversation_id(channel, old, key) for old, channel in legacy.items()}
            for old, new in renames.items():
                connection.execute(
                    EVENTS.update().where(EVENTS.c.sender_id == old).values(sender_id=new))
    finally:
        engine.dispose()
    if renames and clinic_url:
        _rename_in_clinic_database(clinic_url, renames)
    if renames:
        logger.warning("moved %d messaging-channel conversation(s) to keyed conversation ids",
                       len(renames))
    return sorted(legacy.values())


def _rename_in_clinic_database(url: str, renames: Dict[str, str]) -> None:
    """Feedback rows name the conversation; bookings hold a hash of its id (for erasure)."""
    import sqlalchemy as sa

    from bot.booking.store import BookingRequestRow, hash_conversation
    from bot.schema import FeedbackRow

    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        with engine.begin() as connection:
            for old, new in renames.items():
                if inspector.has_table(FeedbackRow.__tablename__):
                    connection.execute(sa.update(FeedbackRow).where(
                        FeedbackRow.sender_id == old).values(sender_id=new))
                if inspector.has_table(BookingRequestRow.__tablename__):
                    connection.execute(sa.update(BookingRequestRow).where(
                        BookingRequestRow.conversation_hash == hash_conversation(old)
                    ).values(conversation_hash=hash_conversation(new)))
    finally:
        engine.dispose()
