"""The SQL layer: one engine per database URL, a session per unit of work.

SQLAlchemy 1.4 used in 2.0 style (``future=True``, ``select()``, ``with Session(...)``).
Nothing connects at import time; ``get_engine`` creates the engine on first use.
The tables are declared in ``bot.schema`` and created only by ``bot.migrations``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.orm import Session

from bot.settings import get_settings

logger = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: Optional[str] = None) -> Engine:
    """The engine for ``url`` (default: ``DATABASE_URL`` or the SQLite file under var/)."""
    database_url = url or get_settings().database_url
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url, future=True)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(database_url, future=True, pool_pre_ping=True, pool_size=5)
    logger.debug("database engine created for backend %s", parsed.get_backend_name())
    return engine


@contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(url), future=True) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
