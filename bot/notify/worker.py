"""The notification worker: lease due outbox rows, send each, record the outcome.

A row is marked sent only after the SMTP server or the webhook accepted it; a failure is
recorded with its type and retried with back-off (5 s doubling to 30 min, 20 attempts);
a worker killed mid-send leaves a lease that expires, and the row is sent again then.
Email that is not configured yet stays pending (nothing is lost while SMTP is being set
up); a webhook that is not configured is skipped.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import timedelta
from typing import Optional

from bot.booking.store import BookingStoreError, get_booking
from bot.booking import outbox
from bot.notify.config import NotifyConfig
from bot.notify.messages import clinic_email, receipt_email, webhook_body
from bot.notify.send import SendError, post_webhook, send_email
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)
NOT_CONFIGURED_RETRY_SECONDS = 60.0
# /health answers 200 while the loop has come round within this many seconds.
HEALTHY_WITHIN_SECONDS = 300.0
_heartbeat = [time.monotonic()]


def beat() -> None:
    _heartbeat[0] = time.monotonic()


def healthy() -> bool:
    return time.monotonic() - _heartbeat[0] < HEALTHY_WITHIN_SECONDS


def serve_health(host: str, port: int) -> None:
    """A /health endpoint for Kubernetes probes (NOTIFY_HEALTH_PORT), in a daemon thread."""
    import http.server

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == "/health" and healthy()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}' if ok else b'{"status": "stalled"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def _postpone(url: Optional[str], job: outbox.Job, seconds: float) -> None:
    """Put the row back, untouched but for its next attempt (not counted as a failure)."""
    outbox.finish(url, job, next_attempt_at=outbox.utcnow() + timedelta(seconds=seconds))


def process(job: outbox.Job, config: NotifyConfig, settings: Settings,
            url: Optional[str] = None) -> str:
    """Send one leased row; return what became of it (sent, retry, dropped, postponed)."""
    try:
        booking = get_booking(job.reference, url)
    except BookingStoreError:
        outbox.mark_failed(url, job, "the booking database is unavailable")
        return "retry"
    if booking is None:
        outbox.mark_dropped(url, job, "the request was erased before it was sent")
        return "dropped"
    try:
        if job.channel == outbox.WEBHOOK:
            if not config.webhook_url:
                outbox.finish(url, job, status=outbox.SKIPPED, last_error="no webhook configured")
                return "skipped"
            post_webhook(webhook_body(booking, config), f"{job.reference}:{job.channel}", config)
        else:
            if not config.email_ready or (job.channel == outbox.CLINIC_EMAIL and not config.email_to):
                _postpone(url, job, NOT_CONFIGURED_RETRY_SECONDS)
                return "postponed"
            if job.channel == outbox.RECEIPT_EMAIL:
                if booking.contact_kind != "email":
                    outbox.mark_dropped(url, job, "no email address to send a receipt to")
                    return "dropped"
                send_email(receipt_email(booking, config, settings), booking.contact, config)
            else:
                send_email(clinic_email(booking, config, settings), config.email_to, config)
    except (SendError, ValueError) as error:
        # ValueError: a header the email policy refused (CR/LF); retrying will not help.
        reason = str(error) if isinstance(error, SendError) else "invalid header value"
        if isinstance(error, ValueError):
            outbox.finish(url, job, status=outbox.FAILED, attempts=job.attempts + 1,
                           last_error=reason)
            logger.error("notification %s/%s refused: %s", job.reference, job.channel, reason)
            return "failed"
        delay = outbox.mark_failed(url, job, reason)
        logger.warning("notification %s/%s not sent (%s); %s", job.reference, job.channel,
                       reason, f"retry in {delay:.0f} s" if delay else "given up")
        return "retry" if delay else "failed"
    if not outbox.mark_sent(url, job):
        logger.warning("notification %s/%s sent, but its lease had been taken over",
                       job.reference, job.channel)
    logger.info("notification %s/%s sent", job.reference, job.channel)
    return "sent"


def run_once(config: NotifyConfig, settings: Settings, url: Optional[str] = None,
             limit: int = 10) -> int:
    """Send what is due now; return how many rows were handled."""
    jobs = outbox.claim(url, config.lease_seconds, limit)
    for job in jobs:
        process(job, config, settings, url)
        beat()
    beat()
    return len(jobs)


def run_forever(config: NotifyConfig, url: Optional[str] = None,
                stop: Optional[threading.Event] = None) -> None:
    stop = stop or threading.Event()
    settings = get_settings()
    if not config.email_ready:
        logger.warning("SMTP_HOST/NOTIFY_EMAIL_FROM not set: emails wait in the outbox")
    logger.info("notification worker started")
    while not stop.is_set():
        try:
            handled = run_once(config, settings, url)
        except Exception as error:  # noqa: BLE001 - a database outage must not end the worker
            logger.error("notification worker: %s; trying again", type(error).__name__)
            handled = 0
        if not handled:
            stop.wait(config.poll_seconds)
    logger.info("notification worker stopped")


def main(url: Optional[str] = None) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from bot.booking.store import require_schema
    from bot.settings import get_settings

    env = get_settings().env
    if env.notify_health_port:
        serve_health(env.notify_health_host, env.notify_health_port)
    while not stop.is_set():
        try:
            require_schema(url)
            break
        except BookingStoreError:
            logger.error("notification worker: database unavailable or not migrated; retrying in 5 s")
            time.sleep(5)
    run_forever(NotifyConfig.from_env(), url, stop)
    return 0
