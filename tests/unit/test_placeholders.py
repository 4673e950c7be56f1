"""Placeholder clinic settings: `make run` warns once, production refuses to start."""

from __future__ import annotations

import pytest
import yaml

from bot.cli import main
from bot.frontdesk.placeholders import refuse_placeholders, warning
from bot.settings import PROJECT_ROOT

REAL = {
    "CLINIC_PHONE": "(403) 210-0142", "CLINIC_BOOKING_URL": "https://clinic.test/book",
    "CLINIC_PRIVACY_URL": "https://clinic.test/privacy", "CLINIC_WEBSITE": "https://clinic.test",
    "ARTICLE_URL": "https://clinic.test/blog/gut-brain",
}


def test_the_shipped_settings_warn_and_name_each_placeholder() -> None:
    text = warning({})
    assert text is not None and text.count("Warning:") == 1
    assert "clinic.phone: (403) 555-0142" in text and "clinic.booking_url" in text


def test_production_refuses_the_shipped_placeholders() -> None:
    with pytest.raises(RuntimeError, match="refusing to start.*\n.*clinic.phone"):
        refuse_placeholders({})
    refuse_placeholders({"ALLOW_PLACEHOLDERS": "1"})  # a test set-up on one machine


def test_production_starts_once_every_link_and_number_is_real(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = yaml.safe_load((PROJECT_ROOT / "config" / "clinic.yml").read_text(encoding="utf-8"))
    for section in config["front_desk"].values():
        if isinstance(section, dict) and "url" in section:
            section["url"] = "https://clinic.test/page"
    path = tmp_path / "clinic.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    refuse_placeholders({**REAL, "CLINIC_CONFIG": str(path)})
    with pytest.raises(RuntimeError, match="clinic.phone"):
        refuse_placeholders({**REAL, "CLINIC_PHONE": "403-555-0199", "CLINIC_CONFIG": str(path)})


def test_check_command_exits_2_with_placeholders(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ALLOW_PLACEHOLDERS", raising=False)
    assert main(["deploy", "check-placeholders"]) == 2
    assert "refusing to start" in capsys.readouterr().err


def test_kubernetes_pods_check_for_placeholders_before_starting() -> None:
    for name in ("rasa.yaml", "actions.yaml"):
        docs = yaml.safe_load_all((PROJECT_ROOT / "deploy" / "k8s" / name).read_text(encoding="utf-8"))
        doc = next(d for d in docs if d and d.get("kind") == "Deployment")
        init = doc["spec"]["template"]["spec"]["initContainers"]
        assert init[0]["args"][-1] == "check-placeholders"
        assert all(e.get("name") != "ALLOW_PLACEHOLDERS" for e in init[0].get("env", []))
