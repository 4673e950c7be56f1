"""The servers' log files after real conversations: no per-message warnings, no colour codes."""

from __future__ import annotations

from tests.e2e.conftest import Assistant

# Each names an entity (SCFA, STRAIN, NEUROTRANSMITTER, PREBIOTIC) the spaCy pipeline finds.
MESSAGES = ("what is butyrate?", "does L. rhamnosus help anxiety?", "what does serotonin do?",
            "is inulin a prebiotic?")


def test_log_files_have_no_per_message_warnings_and_no_colour(assistant: Assistant) -> None:
    for number, text in enumerate(MESSAGES):
        assert assistant.send(f"quiet-{number}", text)
    logs = {path.name: path.read_text(errors="replace")
            for path in assistant.config.log_dir.glob("*.log")}
    assert {"rasa.log", "actions.log"} <= set(logs)
    for name, text in logs.items():
        assert "\x1b[" not in text, f"{name} has ANSI colour codes"
        assert "not defined in the domain" not in text, name
        assert "DeprecationWarning" not in text, name


def test_default_start_has_the_api_behind_the_generated_token(assistant: Assistant) -> None:
    import urllib.error
    import urllib.request

    from bot.settings.token import read_token

    env = {k: v for k, v in assistant.config.extra_env.items() if k != "RASA_API_TOKEN"}
    secret = read_token(env)
    assert secret, "make run's start wrote no token to var/"
    with urllib.request.urlopen(f"{assistant.base_url}/status?token={secret}", timeout=10) as ok:
        assert ok.status == 200  # noqa: S310 (loopback)
    try:
        urllib.request.urlopen(f"{assistant.base_url}/status", timeout=10)  # noqa: S310
    except urllib.error.HTTPError as refused:
        assert refused.code == 401
    else:
        raise AssertionError("the API answered without the token")
