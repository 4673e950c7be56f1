"""The outbox and its worker against a real local SMTP server (STARTTLS) and webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Iterator

import pytest

from bot import db
from bot.booking.store import BookingRequest, get_booking, save_booking
from bot.migrations import migrate
from bot.booking import outbox
from bot.notify.config import NotifyConfig
from bot.notify.worker import run_once
from bot.settings import get_settings
from tests.mailservers import SmtpServer, WebhookReceiver


@pytest.fixture()
def url(tmp_path: Path) -> Iterator[str]:
    database = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(database)
    yield database
    db.get_engine.cache_clear()


@pytest.fixture()
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def config_for(smtp: SmtpServer, **extra: str) -> NotifyConfig:
    return NotifyConfig.from_env({**smtp.env(), "STAFF_URL": "https://staff.clinic.test",
                                  **extra})


def request(contact: str = "403-555-0199", kind: str = "phone", name: str = "Sam Okafor",
            reason: str = "bloating and low mood") -> BookingRequest:
    return BookingRequest(name=name, contact=contact, contact_kind=kind,
                          times_text="Tuesday mornings", reason=reason)


def drain(config: NotifyConfig, url: str, rounds: int = 5) -> None:
    for _ in range(rounds):
        if not run_once(config, get_settings(), url):
            return


def test_the_request_and_its_notifications_are_committed_together(url: str) -> None:
    saved = save_booking(request(), "conv-1", url)
    rows = outbox.rows_for(saved.reference, url)
    assert sorted(r.channel for r in rows) == [outbox.CLINIC_EMAIL, outbox.WEBHOOK]
    assert all(r.status == outbox.PENDING for r in rows)
    # The same confirmation again: one request, no second set of notifications.
    assert save_booking(request(), "conv-1", url).reference == saved.reference
    assert len(outbox.rows_for(saved.reference, url)) == 2


def test_clinic_email_carries_reference_times_and_link_but_no_health_details(
        url: str, smtp: SmtpServer) -> None:
    saved = save_booking(request(), "conv-2", url)
    drain(config_for(smtp), url)
    (mail,) = smtp.wait_for(1)
    body = mail.message.get_content()
    assert mail.recipients == ["frontdesk@clinic.test"]
    assert saved.reference in mail.message["Subject"] and saved.reference in body
    assert "Tuesday mornings" in body
    assert f"https://staff.clinic.test/bookings/{saved.reference}" in body
    assert "bloating" not in body and "Sam Okafor" not in body and "555-0199" not in body
    assert {r.status for r in outbox.rows_for(saved.reference, url)} == {
        outbox.SENT, outbox.SKIPPED}


def test_full_details_only_when_the_clinic_opts_in(url: str, smtp: SmtpServer) -> None:
    save_booking(request(), "conv-3", url)
    drain(config_for(smtp, NOTIFY_FULL_DETAILS="1"), url)
    body = smtp.wait_for(1)[0].message.get_content()
    assert "Sam Okafor" in body and "bloating" in body


def test_a_person_with_an_email_address_gets_a_receipt_with_the_reference_only(
        url: str, smtp: SmtpServer) -> None:
    saved = save_booking(request("sam@example.org", "email"), "conv-4", url)
    drain(config_for(smtp), url)
    mails = smtp.wait_for(2)
    receipt = next(m for m in mails if m.recipients == ["sam@example.org"])
    body = receipt.message.get_content()
    assert saved.reference in body and "bloating" not in body and "Tuesday" not in body
    assert sorted(r for m in mails for r in m.recipients) == [
        "frontdesk@clinic.test", "sam@example.org"]


def test_header_injection_in_name_or_email_adds_no_recipient(url: str, smtp: SmtpServer) -> None:
    # The email address was checked by the booking form; a name goes into the body only.
    save_booking(request(name="x\r\nBcc: victim@evil.test", reason="y\r\nBcc: v2@evil.test"),
                 "conv-5", url)
    drain(config_for(smtp, NOTIFY_FULL_DETAILS="1"), url)
    mails = smtp.wait_for(1)
    assert [r for m in mails for r in m.recipients] == ["frontdesk@clinic.test"]
    assert mails[0].message["Bcc"] is None


def test_smtp_down_keeps_the_notification_and_sends_it_once_when_back(
        url: str, tmp_path: Path) -> None:
    server = SmtpServer(tmp_path)  # not started: connection refused
    config = config_for(server)
    saved = save_booking(request(), "conv-6", url)
    run_once(config, get_settings(), url)
    (row,) = [r for r in outbox.rows_for(saved.reference, url) if r.channel == outbox.CLINIC_EMAIL]
    assert row.status == outbox.PENDING and row.attempts == 1 and "SMTP" in row.last_error
    assert get_booking(saved.reference, url) is not None  # the request stays stored
    server.start()
    try:
        with db.session_scope(url) as session:  # skip the back-off wait
            session.get(outbox.OutboxRow, row.id).next_attempt_at = outbox.utcnow()
        drain(config, url)
        drain(config, url)
        assert len(server.wait_for(1)) == 1
        assert len(server.handler.received) == 1
    finally:
        server.stop()


def test_a_refusing_server_is_retried_with_back_off(url: str, smtp: SmtpServer) -> None:
    smtp.handler.refuse = True
    saved = save_booking(request(), "conv-7", url)
    drain(config_for(smtp), url)
    (row,) = [r for r in outbox.rows_for(saved.reference, url) if r.channel == outbox.CLINIC_EMAIL]
    assert row.status == outbox.PENDING and row.last_error == "SMTP 451"
    assert outbox.backoff(1) == 5 and outbox.backoff(2) == 10 and outbox.backoff(30) == 1800


def test_a_server_without_starttls_gets_nothing(url: str, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    from tests.mailservers import Handler

    from bot.deploy.serve import free_port

    handler = Handler()
    port = free_port()
    plain = Controller(handler, hostname="127.0.0.1", port=port)
    plain.start()
    try:
        config = NotifyConfig.from_env({"SMTP_HOST": "127.0.0.1",
                                        "SMTP_PORT": str(port),
                                        "NOTIFY_EMAIL_FROM": "a@clinic.test",
                                        "NOTIFY_EMAIL_TO": "b@clinic.test"})
        saved = save_booking(request(), "conv-8", url)
        drain(config, url)
        assert handler.received == []
        row = [r for r in outbox.rows_for(saved.reference, url) if r.channel == outbox.CLINIC_EMAIL][0]
        assert "STARTTLS" in row.last_error and row.status == outbox.PENDING
    finally:
        plain.stop()


def test_webhook_is_signed_and_retried_after_a_500(url: str, smtp: SmtpServer,
                                                   hook: WebhookReceiver) -> None:
    config = config_for(smtp, NOTIFY_WEBHOOK_URL=hook.url, NOTIFY_WEBHOOK_SECRET="s3cret")
    hook.status = 500
    saved = save_booking(request(), "conv-9", url)
    drain(config, url)
    row = [r for r in outbox.rows_for(saved.reference, url) if r.channel == outbox.WEBHOOK][0]
    assert row.status == outbox.PENDING and row.last_error == "webhook HTTP 500"
    hook.status = 200
    with db.session_scope(url) as session:
        session.get(outbox.OutboxRow, row.id).next_attempt_at = outbox.utcnow()
    drain(config, url)
    ok = [c for c in hook.calls if c["status"] == 200]
    assert len(ok) == 1 and ok[0]["json"]["reference"] == saved.reference
    assert "name" not in ok[0]["json"] and "reason" not in ok[0]["json"]
    headers = {k.lower(): v for k, v in ok[0]["headers"].items()}
    expected = hmac.new(b"s3cret", headers["x-healthflow-timestamp"].encode() + b"." + ok[0]["body"],
                        hashlib.sha256).hexdigest()
    assert headers["x-healthflow-signature"] == f"sha256={expected}"
    assert headers["idempotency-key"] == f"{saved.reference}:webhook"


def test_email_not_configured_waits_in_the_outbox(url: str) -> None:
    saved = save_booking(request(), "conv-10", url)
    run_once(NotifyConfig.from_env({}), get_settings(), url)
    row = [r for r in outbox.rows_for(saved.reference, url) if r.channel == outbox.CLINIC_EMAIL][0]
    assert row.status == outbox.PENDING and row.attempts == 0


def test_an_erased_request_is_never_announced(url: str, smtp: SmtpServer) -> None:
    from sqlalchemy import delete

    from bot.booking.store import BookingRequestRow

    saved = save_booking(request(), "conv-11", url)
    with db.session_scope(url) as session:
        session.execute(delete(BookingRequestRow).where(BookingRequestRow.reference == saved.reference))
    drain(config_for(smtp), url)
    assert smtp.handler.received == []
    assert outbox.DROPPED in {r.status for r in outbox.rows_for(saved.reference, url)}


def test_two_workers_never_take_the_same_row(url: str) -> None:
    save_booking(request(), "conv-12", url)
    first = outbox.claim(url, 60)
    second = outbox.claim(url, 60)
    assert first and not second


def test_the_worker_health_endpoint_says_when_the_loop_stalls() -> None:
    import json as _json
    import urllib.error
    import urllib.request

    from bot.deploy.serve import free_port
    from bot.notify import worker

    port = free_port()
    worker.serve_health("127.0.0.1", port)
    worker.beat()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
        assert _json.loads(reply.read()) == {"status": "ok"}
    worker._heartbeat[0] -= worker.HEALTHY_WITHIN_SECONDS + 1
    with pytest.raises(urllib.error.HTTPError) as stalled:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
    assert stalled.value.code == 503
    worker.beat()
