"""Quiet, clean output: hide known third-party warnings, keep colour codes out of files.

Called first thing by every entry point (``python -m bot``, ``python -m bot.run`` for the
Rasa and action servers and for training, the web pages). The filters are data
(``config/warnings.yml``); warnings raised by our own code always show.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

FILTERS_FILE = Path(__file__).resolve().parents[1] / "config" / "warnings.yml"
SHOW_ALL = "BOT_SHOW_ALL_WARNINGS"
# Logged by TensorFlow's C++ core on import (no GPU, CPU features) unless told not to.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def load_filters(path: Path = FILTERS_FILE) -> List[Dict[str, Any]]:
    """The filters from ``config/warnings.yml``, each checked (an unknown category is skipped)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    found = []
    for entry in data.get("filters") or []:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("category") or "Warning")
        category = getattr(builtins, name, None)
        if not (isinstance(category, type) and issubclass(category, Warning)):
            continue
        module = str(entry.get("module") or "")
        message = str(entry.get("message") or "")
        try:
            re.compile(module)
            re.compile(message)
        except re.error:
            continue
        found.append({"category": category, "module": module, "message": message})
    return found


def filter_warnings(path: Path = FILTERS_FILE) -> int:
    """Install the filters (in front of any others); how many were installed."""
    from bot.settings import get_settings

    if get_settings().env.bot_show_all_warnings:
        return 0
    filters = load_filters(path)
    for entry in filters:
        warnings.filterwarnings("ignore", message=entry["message"], category=entry["category"],
                                module=entry["module"])
    return len(filters)


def plain_text_when_not_a_terminal(stream: Optional[Any] = None) -> bool:
    """Rasa colours its warnings and success lines with ANSI codes even into log files:
    write them plain when the output is not a terminal. True if colours were switched off."""
    target = stream if stream is not None else sys.stderr
    if hasattr(target, "isatty") and target.isatty():
        return False
    try:
        import rasa.shared.utils.io as rasa_io
    except ImportError:
        return False

    def wrap_without_color(*args: Any, color: str = "") -> str:
        return " ".join(str(s) for s in args)

    rasa_io.wrap_with_color = wrap_without_color  # type: ignore[assignment]
    return True


def keep_filters_after_rasa() -> None:
    """Rasa's own start-up puts a "show once" filter for every UserWarning in front of ours;
    put ours back in front once it has."""
    try:
        import rasa.utils.common as rasa_common
    except ImportError:
        return
    original = rasa_common._filter_warnings
    if getattr(original, "_bot_quiet", False):
        return

    def _filter_warnings(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        filter_warnings()

    _filter_warnings._bot_quiet = True  # type: ignore[attr-defined]
    rasa_common._filter_warnings = _filter_warnings  # type: ignore[assignment]


def quiet_servers() -> None:
    """For the Rasa and action servers: Sanic puts a "show once" filter for every
    DeprecationWarning in front of ours when it is imported, and Rasa one for every
    UserWarning when it starts; import Sanic (they load it anyway) and put ours back in front
    after both."""
    quiet()
    try:
        import sanic.app  # noqa: F401 (for its filterwarnings call)
    except ImportError:
        pass
    filter_warnings()
    keep_filters_after_rasa()
    plain_text_when_not_a_terminal()


def quiet(environ: Optional[Dict[str, str]] = None) -> None:
    """Everything an entry point does before importing the heavy libraries."""
    # Allowed use of os.environ (tests/unit/test_settings.py): it *sets* defaults (telemetry
    # off, library log levels) that the libraries read before they are imported.
    env = os.environ if environ is None else environ
    for key, value in QUIET_ENV.items():
        env.setdefault(key, value)
    filter_warnings()
