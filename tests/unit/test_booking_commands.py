"""``python -m bot bookings list|export``: what the front desk sees, and clear errors."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from bot import db
from bot.booking.export import spreadsheet_safe
from bot.booking.store import BookingRequest, list_bookings, save_booking
from bot.cli import main
from bot.migrations import migrate
from bot.settings import PROJECT_ROOT, get_settings


@pytest.fixture()
def booking_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    migrate(url)
    from bot.staff import users

    users.add_user(url, None, "desk", users.STAFF, "front-desk-password")
    monkeypatch.setenv("STAFF_USER", "desk")
    monkeypatch.setenv("STAFF_PASSWORD", "front-desk-password")
    get_settings.cache_clear()  # read again with the login (migrate and add_user read them)
    yield url
    db.get_engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture()
def two_bookings(booking_db: str) -> list:
    start = datetime(2025, 3, 3, 16, 0, tzinfo=timezone.utc)
    older = save_booking(
        BookingRequest("Ann Older", "+14035550142", "phone", "Monday mornings"), "a",
        booking_db, now=start).reference
    newer = save_booking(
        BookingRequest("=HYPERLINK(\"http://x\")", "new@example.com", "email",
                       "weekdays after 5", "Mon-Fri; evening", "IBS"), "b",
        booking_db, now=start + timedelta(days=1)).reference
    return [newer, older]


def test_list_shows_newest_first_with_status(two_bookings: list, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["bookings", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["reference", "created", "(UTC)"]
    assert lines[1].startswith(two_bookings[0]) and lines[2].startswith(two_bookings[1])
    assert "(403) 555-0142" in lines[2] and "new" in lines[2] and "Monday mornings" in lines[2]
    assert "2 request(s), newest first." in out


def test_list_when_empty(booking_db: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["bookings", "list"]) == 0
    assert "No booking requests yet." in capsys.readouterr().out


def test_export_writes_a_private_csv_newest_first(two_bookings: list, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    assert main(["bookings", "export", "--csv", str(target)]) == 0
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["reference"] for row in rows] == two_bookings
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x\")"  # not run as a formula
    assert rows[1]["contact"] == "(403) 555-0142" and rows[1]["status"] == "new"
    assert (rows[0]["times"], rows[0]["times_normalised"]) == ("weekdays after 5",
                                                              "Mon-Fri; evening")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert not list(tmp_path.glob(".bookings-*")), "no temporary file left behind"


@pytest.mark.parametrize(
    "value, safe",
    [("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("+14035550142", "+14035550142"),
     ("-2+3", "'-2+3"), ("Maria", "Maria"), (None, "")],
)
def test_spreadsheet_safe(value: str, safe: str) -> None:
    assert spreadsheet_safe(value) == safe


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["bookings", "export", "--csv", "/no/such/folder/out.csv"], "does not exist"),
        (["bookings", "export", "--csv", "{tmp}"], "is a folder"),
    ],
)
def test_bad_export_paths_are_explained(
    booking_db: str, tmp_path: Path, capsys, argv: list, needle: str  # type: ignore[no-untyped-def]
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_unreachable_database_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/none")
    monkeypatch.setenv("STAFF_USER", "desk")
    monkeypatch.setenv("STAFF_PASSWORD", "front-desk-password")
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        assert main(["bookings", "list"]) == 2
    finally:
        get_settings.cache_clear()
        db.get_engine.cache_clear()
    err = capsys.readouterr().err
    assert "cannot read booking requests" in err and "DATABASE_URL" in err


@pytest.mark.parametrize(
    "argv",
    [["bookings", "list", "--limit", "0"], ["bookings", "list", "--limit", "ten"],
     ["bookings", "export"], ["bookings"]],
)
def test_bad_arguments_exit_2_without_a_traceback(booking_db: str, argv: list) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *argv], cwd=PROJECT_ROOT, capture_output=True,
        text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "usage:" in result.stderr


def test_front_desk_closes_a_request_and_retention_then_deletes_it(
        two_bookings: list, booking_db: str, capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.privacy.retention import run_retention

    newer, older = two_bookings
    assert main(["bookings", "status", older.lower(), "Booked"]) == 0
    out = capsys.readouterr().out
    assert f"{older}: new -> booked." in out and "retention job deletes it" in out
    statuses = {b.reference: b.status for b in list_bookings(booking_db)}
    assert statuses == {newer: "new", older: "booked"}
    later = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert run_retention(days=90, now=later, database_url=booking_db,
                         tracker_database_url=booking_db).bookings == 1
    assert [b.reference for b in list_bookings(booking_db)] == [newer]  # still open: kept


@pytest.mark.parametrize(
    "argv, needle",
    [(["bookings", "status", "HF-NOSUCH", "booked"], "no booking request has the reference"),
     (["bookings", "status", "{ref}", "done-ish"], "unknown status 'done-ish'; use one of: new, contacted")],
)
def test_bad_status_changes_are_explained_and_change_nothing(
        two_bookings: list, booking_db: str, capsys, argv: list, needle: str) -> None:  # type: ignore[no-untyped-def]
    argv = [a.replace("{ref}", two_bookings[0]) for a in argv]
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
    assert {b.status for b in list_bookings(booking_db)} == {"new"}


@pytest.mark.parametrize("argv", [["bookings", "list"], ["bookings", "export", "--csv", "-"],
                                  ["bookings", "status", "HF-AAAAAA", "booked"]])
def test_every_bookings_command_needs_a_staff_login(
        two_bookings: list, monkeypatch: pytest.MonkeyPatch, capsys, argv: list) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("STAFF_USER")
    get_settings.cache_clear()  # settings are read once per process
    assert main(argv) == 2
    assert "Say who you are" in capsys.readouterr().err
    monkeypatch.setenv("STAFF_USER", "desk")
    monkeypatch.setenv("STAFF_PASSWORD", "wrong password!")
    get_settings.cache_clear()
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "Ann Older" not in out and "password" in err.lower()


def test_status_changes_and_exports_are_audited(two_bookings: list, booking_db: str) -> None:
    from bot.staff.store import audit_log

    assert main(["bookings", "status", two_bookings[1], "contacted"]) == 0
    assert main(["bookings", "export", "--csv", "-"]) == 0
    actions = [(e.username, e.action, e.target) for e in audit_log(booking_db)]
    assert ("desk", "booking_status", two_bookings[1]) in actions
    assert ("desk", "export_bookings", "all") in actions
