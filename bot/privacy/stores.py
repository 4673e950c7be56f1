"""Where conversations and linked rows live, for the privacy jobs.

Conversations are Rasa's tracker store: the ``events`` table of the database named by
``TRACKER_DB_URL`` (default SQLite under var/, as ``bot/deploy/endpoints.py`` writes it).
Booking requests and widget feedback live in the clinic database (``DATABASE_URL``).
Every statement binds its values; nothing here logs what a conversation holds.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping, Optional

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.db import get_engine
from bot.schema import TRACKER_EVENTS

# Rasa's SQLTrackerStore table, declared once in bot/schema.py.
EVENTS = TRACKER_EVENTS

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
