"""The conversation store: Rasa's SQL tracker store, strict about failures and about privacy.

Use it from ``endpoints.yml`` (``bot/deploy/endpoints.py`` writes this)::

    tracker_store:
      type: bot.runtime.tracker_store.StrictSQLTrackerStore
      dialect: postgresql
      ...

Three differences from ``SQLTrackerStore``:

1. **No silent fall-back to memory.** Rasa's Agent wraps every tracker store in
   ``FailSafeTrackerStore``, which answers a failed read with an empty conversation and a
   failed write by keeping the conversation in memory (rasa#3243): the person would be
   answered as a stranger and what they said would be lost at the next restart.
   :func:`install` (run by ``bot.runtime.install`` at server start, before the Agent is
   built) swaps the Agent's wrapper for ``StrictFailSafeTrackerStore``, whose error handler
   raises ``TrackerStoreUnavailable``. The turn then fails, nothing of it is stored, and
   the channel sends its apology with the clinic's phone number. This store refuses to be
   created without that wrapper (``RuntimeNotInstalled``), so a server started some other
   way fails at start instead of forgetting silently later. PostgreSQL connections are
   checked before use (``pool_pre_ping``) and time out after ``TRACKER_DB_CONNECT_TIMEOUT``
   seconds (3), so the store recovers by itself when the database is back and never hangs
   a turn.
2. **Booking details masked once the form is over** (``bot.privacy.masking``): they are
   kept in the bookings table only. Masking rewrites rows in place, so the row count that
   Rasa uses to find unsaved events is unchanged.
3. **Erasure**: when ``action_delete_my_data`` has set ``privacy_erased``, the whole
   conversation is deleted and nothing of the turn is stored.

And two that only save time (each turn's store work was a fifth of the server's CPU):
a SQLite file keeps its connections open in a pool (SQLAlchemy 1.4 opens a new one, with its
pragmas, for every read and write), and a tracker this store read remembers how many of its
events are stored, so the save does not count them again with a query.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any, Callable, Dict, Iterable, List, Optional, Text

import sqlalchemy as sa
from rasa.core import agent as rasa_agent
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    SQLTrackerStore,
    TrackerStore,
    create_engine_kwargs,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.booking import FORM
from bot.privacy import ERASED_SLOT, masking

logger = logging.getLogger(__name__)

# Set on a tracker this store retrieved: how many of its events the database already holds.
_STORED_EVENTS = "_healthflow_stored_events"


class TrackerStoreUnavailable(RuntimeError):
    """The conversation store cannot be used; the turn must fail rather than forget."""


def fail_turn(error: Exception) -> None:
    """FailSafeTrackerStore's error handler: fail loudly instead of falling back to memory.

    The original error's text can hold SQL with a person's words as bound values, so only
    its type is logged and it is not chained.
    """
    logger.error("conversation store unavailable (%s); the turn fails with an apology",
                 type(error).__name__)
    raise TrackerStoreUnavailable(
        f"the conversation store is unavailable ({type(error).__name__})"
    ) from None


class StrictFailSafeTrackerStore(FailSafeTrackerStore):
    """Rasa's wrapper, raising instead of falling back when it wraps the strict store."""

    def __init__(
        self,
        tracker_store: TrackerStore,
        on_tracker_store_error: Optional[Callable[[Exception], None]] = None,
        fallback_tracker_store: Optional[TrackerStore] = None,
    ) -> None:
        if on_tracker_store_error is None and isinstance(tracker_store, StrictSQLTrackerStore):
            on_tracker_store_error = fail_turn
        super().__init__(tracker_store, on_tracker_store_error, fallback_tracker_store)


def install() -> bool:
    """Make the Agent wrap tracker stores in ``StrictFailSafeTrackerStore``; True if it did.

    ``Agent._create_tracker_store`` looks the wrapper up in ``rasa.core.agent`` when the
    Agent is built, which ``rasa run`` does after creating the tracker store.
    """
    if installed():
        return False
    rasa_agent.FailSafeTrackerStore = StrictFailSafeTrackerStore  # type: ignore[misc]
    return True


def installed() -> bool:
    return rasa_agent.FailSafeTrackerStore is StrictFailSafeTrackerStore


class RuntimeNotInstalled(RuntimeError):
    """The strict store was created in a server started without ``bot.runtime.install``."""


def _erased(tracker: DialogueStateTracker) -> bool:
    return any(
        isinstance(event, SlotSet) and event.key == ERASED_SLOT and event.value is True
        for event in tracker.events
    )


def _form_over_with_details(tracker: DialogueStateTracker) -> bool:
    """The booking form is not running, but a slot still holds what a person typed."""
    if tracker.active_loop_name == FORM:
        return False
    return masking.holds_personal_details(
        event.as_dict() for event in tracker.events if isinstance(event, SlotSet)
    )


def _sqlite_write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """WAL with synchronous=NORMAL: one fsync per checkpoint instead of several per turn.

    A committed turn survives a crash of the process (kill -9); only a power cut can lose
    the last turns. Every turn otherwise blocks the server's event loop on disk syncs.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class StrictSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that fails loudly, masks booking details and honours erasure."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        dialect: Text = "sqlite",
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Text = "rasa.db",
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        login_db: Optional[Text] = None,
        query: Optional[Dict] = None,
        **kwargs: Any,
    ) -> None:
        if not installed():
            raise RuntimeNotInstalled(
                "StrictSQLTrackerStore needs the strict wrapper of bot.runtime; start the "
                "server with `python -m bot.run rasa run ...`"
            )
        super().__init__(
            domain, dialect, host, port, db, username, password,  # type: ignore[arg-type]
            event_broker, login_db, query, **kwargs,
        )
        engine: Engine = self.engine  # type: ignore[has-type]
        if engine.dialect.name == "sqlite":
            self._pool_sqlite_file(engine)
            sa.event.listen(self.engine, "connect", _sqlite_write_ahead_log)
        else:
            self._use_checked_connections(engine)

    def _pool_sqlite_file(self, engine: Engine) -> None:
        """Keep a file database's connections open (an in-memory one is left as it is)."""
        if engine.url.database in (None, "", ":memory:"):
            return
        self._replace_engine(engine, poolclass=sa.pool.QueuePool, pool_size=5,
                             connect_args={"check_same_thread": False})

    def _use_checked_connections(self, engine: Engine) -> None:
        url = engine.url
        options: Dict[str, Any] = dict(create_engine_kwargs(url))
        if engine.dialect.name == "postgresql":
            from bot.settings import get_settings

            connect_args = dict(options.get("connect_args") or {})
            connect_args.setdefault(
                "connect_timeout",
                get_settings().env.tracker_db_connect_timeout,
            )
            options["connect_args"] = connect_args
        self._replace_engine(engine, pool_pre_ping=True, **options)

    def _replace_engine(self, engine: Engine, **options: Any) -> None:
        """Close Rasa's engine and use one made from the same URL with ``options``."""
        engine.dispose()
        self.engine = sa.create_engine(engine.url, **options)
        self.sessionmaker = sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The latest session's tracker, remembering how many of its events are stored."""
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            setattr(tracker, _STORED_EVENTS, len(tracker.events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the turn's new events in one transaction, masking or erasing as due."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            if _erased(tracker):
                self._delete_conversation(session, tracker.sender_id)
                session.commit()
                return
            new_events = [event.as_dict() for event in self._unsaved_events(session, tracker)]
            if _form_over_with_details(tracker):
                new_events = self._mask_stored(session, tracker.sender_id, new_events)
            for data in new_events:
                session.add(self._row(tracker.sender_id, data))
            session.commit()
        setattr(tracker, _STORED_EVENTS, len(tracker.events))

    def _unsaved_events(self, session: Session, tracker: DialogueStateTracker) -> Iterable[Any]:
        """The tracker's events not yet stored: known from its retrieval, else counted."""
        stored = getattr(tracker, _STORED_EVENTS, None)
        if stored is None:
            return self._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, None)

    def _row(self, sender_id: Text, data: Dict[Text, Any]) -> Any:
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=data.get("event"),
            timestamp=data.get("timestamp"),
            intent_name=((data.get("parse_data") or {}).get("intent") or {}).get("name"),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _delete_conversation(self, session: Session, sender_id: Text) -> None:
        deleted = (
            session.query(self.SQLEvent)
            .filter(self.SQLEvent.sender_id == sender_id)
            .delete(synchronize_session=False)
        )
        logger.info("a conversation was erased at the person's request (%d event(s))", deleted)

    def _mask_stored(
        self, session: Session, sender_id: Text, new_events: Iterable[Dict[Text, Any]]
    ) -> List[Dict[Text, Any]]:
        """Mask the stored rows in place; return the new events, masked the same way."""
        rows = (
            session.query(self.SQLEvent)
            .filter(self.SQLEvent.sender_id == sender_id)
            .order_by(self.SQLEvent.id)
            .all()
        )
        stored = [json.loads(row.data) for row in rows]
        pending = list(new_events)
        masked = masking.mask_events(stored + pending)
        changed = 0
        for row, before, after in zip(rows, stored, masked):
            if after != before:
                row.data = json.dumps(after)
                changed += 1
        logger.info("booking details masked in a stored conversation (%d event(s))",
                    changed + len(pending))
        return masked[len(rows):]
