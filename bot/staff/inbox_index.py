"""The inbox's own index of the conversation log, so opening the inbox reads only what it shows.

Rasa's ``events`` table holds every event of every conversation as JSON. Parsing, masking
and grouping all of it on every visit took 15 s at 100,000 events. Instead, each visit first
brings this index up to date with the events added since the last visit (one indexed range
scan), then filters and pages with indexed queries:

- ``staff_inbox_items``: one row per typed user message (buttons and booking-form answers
  left out): masked text, the assistant's guess and confidence, and, once the message has
  been shown, its sentence vector for grouping by meaning.
- ``staff_inbox_state``: the last tracker event id indexed.

The index is derived data: rows whose conversation was erased or expired from the tracker
store are dropped on the next visit, and when a conversation later reveals a personal value
(a name typed into the booking form), its earlier messages are masked again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
from sqlalchemy import Index, bindparam, delete, func, inspect, select, update
from sqlalchemy.engine import Engine

from bot.db import get_engine, session_scope
from bot.schema import InboxItemRow, InboxStateRow

logger = logging.getLogger(__name__)

CHUNK = 2000
VECTOR_DTYPE = np.float16


def sender_hash(sender_id: str) -> str:
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()


def ensure_tracker_indexes(engine: Engine) -> None:
    """The inbox reads user messages by id and a conversation's slots by sender: index both
    (Rasa's table has an index on sender_id only). Idempotent; skipped when not allowed."""
    from bot.staff.tracked import EVENTS

    wanted = {"ix_events_type_name_id": ("type_name", "id"),
              "ix_events_sender_type": ("sender_id", "type_name"),
              "ix_events_type_time": ("type_name", "timestamp")}
    try:
        existing = {ix["name"] for ix in inspect(engine).get_indexes("events")}
        for name, columns in wanted.items():
            if name not in existing:
                Index(name, *(EVENTS.c[c] for c in columns)).create(engine)
    except Exception as error:  # a read-only tracker user: work without the indexes
        logger.warning("could not index the tracker store's events table: %s", error)


@dataclass
class RefreshResult:
    added: int = 0
    dropped: int = 0
    remasked: int = 0


def _state(session, name: str) -> int:  # type: ignore[no-untyped-def]
    row = session.get(InboxStateRow, name)
    return int(row.value) if row is not None else 0


def refresh(project, reviewable, text_key, encode_below: float = 0.0) -> RefreshResult:  # type: ignore[no-untyped-def]
    """Bring the index up to date with the tracker store (``project``); ``reviewable`` says
    which messages staff review and ``text_key`` how a text is keyed for labels. New messages
    that need a look (unsure, out of scope, confidence under ``encode_below``) are encoded
    now, so later filtered views find their vectors stored."""
    from bot.intents import FALLBACK_INTENT, OUT_OF_SCOPE
    from bot.staff.tracked import EVENTS, IDENTITY_SLOTS, read_messages, tracker_ready

    result = RefreshResult()
    if not tracker_ready(project.tracker_url):
        return result
    tracker = get_engine(project.tracker_url)
    ensure_tracker_indexes(tracker)
    with session_scope(project.database_url) as session:
        last = _state(session, "last_event_id")
    with tracker.connect() as connection:
        newest = connection.execute(
            select(EVENTS.c.id).order_by(EVENTS.c.id.desc()).limit(1)).scalar()
        newest = int(newest or 0)
        if newest < last:  # the tracker store was replaced: start over
            last = 0
            with session_scope(project.database_url) as session:
                session.execute(delete(InboxItemRow))
        # conversations that revealed a personal value since the last visit
        revealed = sorted({row.sender_id for row in connection.execute(
            select(EVENTS.c.sender_id, EVENTS.c.data).where(
                EVENTS.c.id > last, EVENTS.c.type_name == "slot")) if any(
                f'"{name}"' in (row.data or "") for name in IDENTITY_SLOTS)}) if last else []
        user_ids = [int(i) for i in connection.execute(
            select(EVENTS.c.id).where(EVENTS.c.type_name == "user", EVENTS.c.id > last)
            .order_by(EVENTS.c.id)).scalars()]
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start:start + CHUNK]
        messages = [m for m in read_messages(project, limit=len(chunk), event_ids=chunk)
                    if reviewable(m)]
        rows = [_row(m, text_key) for m in messages]
        look = [(int(r.event_id), str(r.text), None) for r in rows
                if r.intent in (FALLBACK_INTENT, OUT_OF_SCOPE) or r.confidence < encode_below]
        with session_scope(project.database_url) as session:
            session.add_all(rows)
        vectors_for(project, look)
        result.added += len(messages)
    _mark_clarified(project, last)
    if revealed:
        result.remasked = _remask(project, revealed, reviewable, text_key)
    with get_engine(project.tracker_url).connect() as connection:
        still_there = int(connection.execute(select(func.count()).select_from(EVENTS).where(
            EVENTS.c.type_name == "user", EVENTS.c.id <= last)).scalar() or 0)
    with session_scope(project.database_url) as session:
        seen_before = _state(session, "tracker_user_count")
    if still_there < seen_before:  # conversations were erased or expired since the last visit
        result.dropped = _drop_forgotten(project)
    user_count = still_there + len(user_ids)
    with session_scope(project.database_url) as session:
        for name, value in (("last_event_id", newest), ("tracker_user_count", user_count)):
            state = session.get(InboxStateRow, name)
            if state is None:
                session.add(InboxStateRow(name=name, value=value))
            else:
                state.value = value
    return result


CLARIFY_ACTION = "action_clarify"


def _mark_clarified(project, last: int) -> None:  # type: ignore[no-untyped-def]
    """Messages the assistant answered with "did you mean ...?" (the clarify action)."""
    from bot.staff.tracked import EVENTS

    with get_engine(project.tracker_url).connect() as connection:
        asked = connection.execute(select(EVENTS.c.id, EVENTS.c.sender_id).where(
            EVENTS.c.id > last, EVENTS.c.type_name == "action",
            EVENTS.c.action_name == CLARIFY_ACTION)).all()
    if not asked:
        return
    with session_scope(project.database_url) as session:
        for action_id, sender in asked:
            before = session.execute(
                select(InboxItemRow.event_id).where(InboxItemRow.sender_hash == sender_hash(sender),
                                                    InboxItemRow.event_id < action_id)
                .order_by(InboxItemRow.event_id.desc()).limit(1)).scalar()
            if before is not None:
                session.execute(update(InboxItemRow).where(InboxItemRow.event_id == before)
                                .values(clarified=1))


def _row(message, text_key) -> InboxItemRow:  # type: ignore[no-untyped-def]
    from bot.intents import FALLBACK_INTENT

    topic, confidence = message.guess()
    masked = message.masked
    return InboxItemRow(event_id=message.event_id, sender_hash=sender_hash(message.sender_id),
                        at=message.timestamp, text=masked, text_key=text_key(masked),
                        intent=message.intent or FALLBACK_INTENT, topic=topic,
                        confidence=float(confidence))


def _remask(project, senders: Sequence[str], reviewable, text_key) -> int:  # type: ignore[no-untyped-def]
    """Mask again the indexed messages of conversations that revealed a name or contact."""
    from bot.staff.tracked import read_messages

    hashes = [sender_hash(s) for s in senders]
    with session_scope(project.database_url) as session:
        ids = [int(i) for i in session.execute(
            select(InboxItemRow.event_id).where(InboxItemRow.sender_hash.in_(hashes))).scalars()]
    if not ids:
        return 0
    changed = 0
    with session_scope(project.database_url) as session:
        for message in read_messages(project, limit=len(ids), event_ids=ids):
            masked = message.masked
            changed += session.execute(
                update(InboxItemRow).where(InboxItemRow.event_id == message.event_id,
                                           InboxItemRow.text != masked)
                .values(text=masked, text_key=text_key(masked), vector=None)).rowcount or 0
    return changed


def _drop_forgotten(project) -> int:  # type: ignore[no-untyped-def]
    """Drop rows whose message is no longer in the tracker store (erased or expired)."""
    from bot.staff.tracked import EVENTS

    with get_engine(project.tracker_url).connect() as connection:
        present = set(connection.execute(
            select(EVENTS.c.id).where(EVENTS.c.type_name == "user")).scalars())
    with session_scope(project.database_url) as session:
        indexed = set(session.execute(select(InboxItemRow.event_id)).scalars())
        gone = sorted(indexed - present)
        for start in range(0, len(gone), 500):
            session.execute(delete(InboxItemRow).where(
                InboxItemRow.event_id.in_(gone[start:start + 500])))
    return len(gone)


def vectors_for(project, rows: Sequence[Tuple[int, str, Optional[bytes]]]) -> Dict[int, np.ndarray]:  # type: ignore[no-untyped-def]
    """Unit sentence vectors of (event id, text, stored vector) rows; the missing ones are
    encoded with the shared sentence encoder and stored. Empty when the encoder is missing."""
    found: Dict[int, np.ndarray] = {}
    missing: List[Tuple[int, str]] = []
    for event_id, text, blob in rows:
        if blob:
            found[event_id] = np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)
        else:
            missing.append((event_id, text))
    if missing:
        try:
            from bot.nlp.encoder import shared_encoder

            unique = sorted({text for _, text in missing})
            encoded_unique = dict(zip(unique, shared_encoder().encode(unique)))
        except Exception as error:  # the encoder cannot load: group by words instead
            logger.warning("sentence encoder unavailable for grouping: %s", error)
            return {}
        encoded = [encoded_unique[text] for _, text in missing]
        table = InboxItemRow.__table__
        stored = []
        for (event_id, _), vector in zip(missing, encoded):
            found[event_id] = vector.astype(np.float32)
            stored.append({"key": event_id, "blob": vector.astype(VECTOR_DTYPE).tobytes()})
        with get_engine(project.database_url).begin() as connection:
            connection.execute(update(table).where(table.c.event_id == bindparam("key"))
                               .values(vector=bindparam("blob")), stored)
    return found


def group_by_meaning(ids: Sequence[int], vectors: Dict[int, np.ndarray],
                     threshold: float) -> List[List[int]]:
    """Greedy grouping in the order given (newest first): a message joins the first group
    whose first message means nearly the same (cosine >= threshold), or starts a new one."""
    groups: List[List[int]] = []
    if not ids:
        return groups
    heads = np.zeros((len(ids), len(vectors[ids[0]])), dtype=np.float32)
    for event_id in ids:
        vector = vectors[event_id]
        if groups:
            scores = heads[:len(groups)] @ vector
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                groups[best].append(event_id)
                continue
        heads[len(groups)] = vector
        groups.append([event_id])
    return groups


def senders_of(project, hashes: Iterable[str]) -> Dict[str, List[int]]:  # type: ignore[no-untyped-def]
    """Each conversation's indexed messages, oldest first (for thumbs-down positions)."""
    wanted = sorted(set(hashes))
    found: Dict[str, List[int]] = defaultdict(list)
    if not wanted:
        return found
    with session_scope(project.database_url) as session:
        for row in session.execute(
                select(InboxItemRow.sender_hash, InboxItemRow.event_id)
                .where(InboxItemRow.sender_hash.in_(wanted)).order_by(InboxItemRow.event_id)):
            found[row.sender_hash].append(int(row.event_id))
    return found


def known(project, event_ids: Set[int]) -> Set[int]:  # type: ignore[no-untyped-def]
    with session_scope(project.database_url) as session:
        return {int(i) for i in session.execute(
            select(InboxItemRow.event_id).where(InboxItemRow.event_id.in_(sorted(event_ids)))).scalars()}
