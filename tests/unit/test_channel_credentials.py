"""A channel is on exactly when its variables are set; secrets never reach the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import rasa.shared.utils.io
import yaml

from bot.channels import credentials
from bot.settings import PROJECT_ROOT

TEMPLATE = (PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8")
ALL_SET = {
    "TELEGRAM_TOKEN": "123456:secret-telegram", "TELEGRAM_VERIFY": "clinic_bot",
    "TELEGRAM_WEBHOOK_URL": "https://clinic.example/webhooks/telegram/webhook",
    "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret-twilio",
    "TWILIO_NUMBER": "whatsapp:+15875550199",
    "FB_VERIFY": "verify-me", "FB_SECRET": "secret-fb", "FB_PAGE_ACCESS_TOKEN": "secret-page",
    "SLACK_TOKEN": "xoxb-secret", "SLACK_SIGNING_SECRET": "secret-slack",
}


# The entry the template always uses: REST (the model swap is no channel: bot.runtime).
ALWAYS_ON = ["bot.channels.rest.ClinicRestInput"]


def test_only_rest_when_nothing_is_set() -> None:
    plan = credentials.build({}, TEMPLATE)
    assert list(plan.config) == ALWAYS_ON
    assert plan.enabled == [] and plan.incomplete == {}


def test_every_channel_when_everything_is_set() -> None:
    plan = credentials.build(ALL_SET, TEMPLATE)
    assert plan.enabled == ["telegram", "twilio", "messenger", "slack"]
    assert plan.config["bot.channels.twilio.ClinicTwilioInput"] == {
        "account_sid": "${TWILIO_ACCOUNT_SID}", "auth_token": "${TWILIO_AUTH_TOKEN}",
        "twilio_number": "${TWILIO_NUMBER}",
    }
    assert plan.config["bot.channels.slack.ClinicSlackInput"]["conversation_granularity"] == "sender"


def test_a_half_configured_channel_stays_off_and_says_what_is_missing() -> None:
    env = {k: v for k, v in ALL_SET.items() if k != "SLACK_SIGNING_SECRET"}
    plan = credentials.build(env, TEMPLATE)
    assert "slack" not in plan.enabled
    assert plan.incomplete == {"slack": ["SLACK_SIGNING_SECRET"]}


def test_the_written_file_keeps_secrets_in_the_environment_and_rasa_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in ALL_SET.items() if k.startswith("TELEGRAM_")}
    path = credentials.write_credentials(tmp_path / "credentials.yml", env)
    text = path.read_text()
    assert "secret-telegram" not in text and "${TELEGRAM_TOKEN}" in text
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ALL_SET.keys() - env.keys():
        monkeypatch.delenv(name, raising=False)
    loaded = rasa.shared.utils.io.read_config_file(str(path))  # Rasa's own reader
    assert loaded["bot.channels.telegram.ClinicTelegramInput"]["access_token"] == (
        "123456:secret-telegram"
    )
    assert set(loaded) == {*ALWAYS_ON, "bot.channels.telegram.ClinicTelegramInput"}


def test_the_template_itself_runs_rasa_without_any_channel_variable(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rasa run/shell --credentials credentials.yml` must not need the channels' variables."""
    for name in ALL_SET:
        monkeypatch.delenv(name, raising=False)
    loaded = rasa.shared.utils.io.read_config_file(str(PROJECT_ROOT / "credentials.yml"))
    assert list(loaded) == ALWAYS_ON


def test_every_channel_in_the_template_can_be_built_from_its_entry() -> None:
    """The template's keys are the ones the classes read (a typo would fail at start-up)."""
    from rasa.shared.utils.common import class_from_module_path

    plan = credentials.build(ALL_SET, TEMPLATE)
    names = set()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ALL_SET.items():
            patch.setenv(name, value)
        for channel_class, entry in plan.config.items():
            resolved = yaml.safe_load(os.path.expandvars(yaml.safe_dump(entry)))
            names.add(class_from_module_path(channel_class).from_credentials(resolved).name())
    assert names == {"rest", "telegram", "twilio", "facebook", "slack"}  # no fake channel


def test_a_line_left_uncommented_inside_the_block_is_reported() -> None:
    broken = TEMPLATE.replace("#   access_token: ${TELEGRAM_TOKEN}",
                              "  access_token: ${TELEGRAM_TOKEN}")
    with pytest.raises(ValueError, match="commented out"):
        credentials.build(ALL_SET, broken)
