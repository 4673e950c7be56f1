"""Where notifications go, from the environment only (secrets never in files or logs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

DEFAULT_SMTP_PORT = 587
DEFAULT_TIMEOUT = 20.0


def _flag(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class NotifyConfig:
    smtp_host: str = ""
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_ca_file: str = ""  # a private CA (a test server's self-signed certificate)
    smtp_timeout: float = DEFAULT_TIMEOUT
    email_from: str = ""
    email_to: str = ""  # the clinic's front desk
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_timeout: float = 10.0
    full_details: bool = False  # the clinic opted into name, contact and reason in the email
    staff_url: str = ""  # base of the staff page, e.g. https://staff.clinic.example
    poll_seconds: float = 2.0

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> NotifyConfig:
        from bot.settings import environment

        env = environment(environ)
        return cls(
            smtp_host=env.smtp_host.strip(),
            smtp_port=env.smtp_port,
            smtp_username=env.smtp_username,
            smtp_password=env.smtp_password,
            smtp_ca_file=env.smtp_ca_file,
            smtp_timeout=env.smtp_timeout,
            email_from=env.notify_email_from.strip(),
            email_to=env.notify_email_to.strip(),
            webhook_url=env.notify_webhook_url.strip(),
            webhook_secret=env.notify_webhook_secret,
            webhook_timeout=env.notify_webhook_timeout,
            full_details=env.notify_full_details,
            staff_url=(env.staff_url or f"http://127.0.0.1:{env.staff_port}").rstrip("/"),
            poll_seconds=env.notify_poll_seconds,
        )

    @property
    def email_ready(self) -> bool:
        return bool(self.smtp_host and self.email_from)

    @property
    def lease_seconds(self) -> float:
        """Longer than any one send can take, so a live worker's row is never taken over."""
        return 3 * max(self.smtp_timeout, self.webhook_timeout) + 30
