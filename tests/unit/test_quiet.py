"""Quiet output: known third-party warnings hidden at the entry points, ours always shown."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings

from bot import quiet
from bot.settings import PROJECT_ROOT


def _emit(module: str, category: type, message: str) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet.filter_warnings()
        warnings.warn_explicit(message, category, "x.py", 1, module=module)
    return [str(w.message) for w in caught]


def test_third_party_deprecations_are_hidden_and_ours_are_not() -> None:
    assert _emit("tensorflow.lite.python.util", DeprecationWarning, "jax.xla_computation") == []
    assert _emit("matplotlib.fontconfig_pattern", DeprecationWarning, "setParseAction") == []
    assert _emit("bot.staff.inbox", DeprecationWarning, "ours") == ["ours"]
    assert _emit("actions.common", FutureWarning, "ours too") == ["ours too"]


def test_only_the_known_rasa_user_warnings_are_hidden() -> None:
    known = "The utterance 'utter_greet' is not used in any story or rule."
    assert _emit("rasa.shared.utils.io", UserWarning, known) == []
    other = "Parsed an entity 'X' which is not defined in the domain."
    assert _emit("rasa.shared.utils.io", UserWarning, other) == [other]


def test_every_listed_filter_loads() -> None:
    text = (PROJECT_ROOT / "config" / "warnings.yml").read_text()
    assert len(quiet.load_filters()) == text.count("- category:")


def test_show_all_switch_installs_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(quiet.SHOW_ALL, "1")
    assert quiet.filter_warnings() == 0


def test_rasa_colours_are_off_when_writing_to_a_file() -> None:
    import rasa.shared.utils.io as rasa_io

    original = rasa_io.wrap_with_color
    try:
        assert quiet.plain_text_when_not_a_terminal(io.StringIO()) is True
        assert rasa_io.wrap_with_color("done", color=rasa_io.bcolors.OKGREEN) == "done"
    finally:
        rasa_io.wrap_with_color = original  # type: ignore[assignment]


def test_cli_help_prints_no_library_warnings() -> None:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), RASA_TELEMETRY_ENABLED="false")
    env.pop(quiet.SHOW_ALL, None)
    done = subprocess.run([sys.executable, "-W", "default", "-m", "bot.run", "rasa", "--version"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert "\x1b[" not in done.stdout + done.stderr
