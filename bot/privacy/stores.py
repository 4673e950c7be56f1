"""Where conversations and linked rows live, for the privacy jobs.

Conversations are Rasa's tracker store: the ``events`` table of the database named by
``TRACKER_DB_URL`` (default SQLite under var/, as ``bot/deploy/endpoints.py`` writes it).
Booking requests and widget feedback live in the clinic database (``DATABASE_URL``).
Every statement binds its values; nothing here logs what a conversation holds.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping, Optional

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.db import get_engine

# Rasa's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent); created by Rasa.
_rasa = MetaData()
EVENTS = Table(
    "events",
    _rasa,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

# The web widget's votes (bot/web/feedback.py) name the conversation by its sender id.
FEEDBACK_TABLE = "feedback"


def tracker_url(environ: Optional[Mapping[str, str]] = None) -> str:
    """The tracker database's SQLAlchemy URL, with ``TRACKER_DB_PASSWORD`` filled in
    (built in one place: ``Environment.tracker_url`` in bot/settings/environment.py)."""
    from bot.settings import environment

    return environment(environ).tracker_url()


def has_table(connection: Connection, name: str) -> bool:
    return bool(inspect(connection).has_table(name))


@contextmanager
def tracker_connection(clinic: Session, clinic_url: str, url: str) -> Iterator[Connection]:
    """The tracker database in its own transaction, or the clinic's when it is the same file.

    Two connections writing one SQLite file would wait for each other's lock.
    """
    if url == clinic_url:
        yield clinic.connection()
        return
    with get_engine(url).begin() as connection:
        yield connection
