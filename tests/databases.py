"""Scratch PostgreSQL databases for tests: a database of its own, dropped after."""

from __future__ import annotations

import os
import socket
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest

from bot import db
from bot.deploy import prod

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
# Tests running side by side on one PostgreSQL server give their databases their own prefix.
DATABASE_PREFIX = os.environ.get("MIGRATION_TEST_DATABASE_PREFIX", "clinic_migrate")


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (the test skips when there is no server)."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        pytest.skip("needs PostgreSQL on 127.0.0.1:5432")
    url = f"{POSTGRES}/{DATABASE_PREFIX}_{uuid.uuid4().hex[:8]}"
    assert prod.ensure_database(url) is True
    assert prod.ensure_database(url) is False  # a second call finds it
    try:
        yield url
    finally:
        db.get_engine(url).dispose()
        prod.drop_database(url)
