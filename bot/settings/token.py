"""The Rasa HTTP API token: generated on the first ``make run``, kept in ``var/`` (mode 0600).

The Rasa server's API (load a model, read the status) listens on loopback only and refuses
every request without this token. ``RASA_API_TOKEN`` in the environment overrides the file;
``RASA_API_TOKEN_FILE`` names another file. The staff tools and the model hot swap read the
token the same way, so a default set-up needs nothing exported by hand.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Mapping, Optional

from bot.settings import PROJECT_ROOT, environment

TOKEN_VARIABLE = "RASA_API_TOKEN"
FILE_VARIABLE = "RASA_API_TOKEN_FILE"
DEFAULT_TOKEN_FILE = PROJECT_ROOT / "var" / "rasa-api-token"
TOKEN_BYTES = 32


def token_file(environ: Optional[Mapping[str, str]] = None) -> Path:
    return environment(environ).rasa_api_token_file


def read_token(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The token from the environment, else from the file; None when there is neither."""
    given = environment(environ).rasa_api_token
    if given:
        return given
    try:
        text = token_file(environ).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def ensure_token(environ: Optional[Mapping[str, str]] = None) -> str:
    """The token to start the Rasa server with; written to the file (0600) if there is none."""
    existing = read_token(environ)
    if existing:
        return existing
    path = token_file(environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another start wrote it first (or left it empty)
        raced = read_token(environ)
        if raced:
            return raced
        path.unlink(missing_ok=True)
        return ensure_token(environ)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
