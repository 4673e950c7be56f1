"""Where notifications go, from the environment only (secrets never in files or logs)."""

from __future__ import annotations

import os
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
        env = os.environ if environ is None else environ
        return cls(
            smtp_host=env.get("SMTP_HOST", "").strip(),
            smtp_port=int(env.get("SMTP_PORT") or DEFAULT_SMTP_PORT),
            smtp_username=env.get("SMTP_USERNAME", ""),
            smtp_password=env.get("SMTP_PASSWORD", ""),
            smtp_ca_file=env.get("SMTP_CA_FILE", ""),
            smtp_timeout=float(env.get("SMTP_TIMEOUT") or DEFAULT_TIMEOUT),
            email_from=env.get("NOTIFY_EMAIL_FROM", "").strip(),
            email_to=env.get("NOTIFY_EMAIL_TO", "").strip(),
            webhook_url=env.get("NOTIFY_WEBHOOK_URL", "").strip(),
            webhook_secret=env.get("NOTIFY_WEBHOOK_SECRET", ""),
            webhook_timeout=float(env.get("NOTIFY_WEBHOOK_TIMEOUT") or 10.0),
            full_details=_flag(env.get("NOTIFY_FULL_DETAILS")),
            staff_url=(env.get("STAFF_URL") or
                       f"http://127.0.0.1:{env.get('STAFF_PORT') or 8090}").rstrip("/"),
            poll_seconds=float(env.get("NOTIFY_POLL_SECONDS") or 2.0),
        )

    @property
    def email_ready(self) -> bool:
        return bool(self.smtp_host and self.email_from)

    @property
    def lease_seconds(self) -> float:
        """Longer than any one send can take, so a live worker's row is never taken over."""
        return 3 * max(self.smtp_timeout, self.webhook_timeout) + 30
