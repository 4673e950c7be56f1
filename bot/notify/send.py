"""Sending one notification: SMTP with STARTTLS (always), or an HMAC-signed webhook POST."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from urllib.parse import urlsplit

from bot.notify.config import NotifyConfig

SIGNATURE_HEADER = "X-Healthflow-Signature"
TIMESTAMP_HEADER = "X-Healthflow-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class SendError(RuntimeError):
    """This attempt failed; the message says why in a few words (no content, no secrets)."""


def _tls_context(config: NotifyConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.smtp_ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def send_email(message: EmailMessage, recipient: str, config: NotifyConfig) -> None:
    """Deliver to ``recipient`` only; STARTTLS is required and the certificate checked."""
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port,
                          timeout=config.smtp_timeout) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise SendError("the SMTP server does not offer STARTTLS")
            smtp.starttls(context=_tls_context(config))
            smtp.ehlo()
            if config.smtp_username:
                smtp.login(config.smtp_username, config.smtp_password)
            refused = smtp.send_message(message, from_addr=config.email_from,
                                        to_addrs=[recipient])
            if refused:
                raise SendError("the SMTP server refused the recipient")
    except SendError:
        raise
    except smtplib.SMTPResponseException as error:
        raise SendError(f"SMTP {error.smtp_code}") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
        raise SendError(f"SMTP: {type(error).__name__}") from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC of "<timestamp>.<body>">``; the receiver recomputes and compares."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post_webhook(body: bytes, key: str, config: NotifyConfig) -> None:
    parts = urlsplit(config.webhook_url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname or "")):
        raise SendError("the webhook URL must use https (http only on loopback)")
    timestamp = str(int(time.time()))
    request = urllib.request.Request(config.webhook_url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        IDEMPOTENCY_HEADER: key,
        **({SIGNATURE_HEADER: signature(config.webhook_secret, timestamp, body)}
           if config.webhook_secret else {}),
    })
    try:
        with urllib.request.urlopen(request, timeout=config.webhook_timeout) as response:  # noqa: S310
            if not 200 <= response.status < 300:
                raise SendError(f"webhook HTTP {response.status}")
    except urllib.error.HTTPError as error:
        raise SendError(f"webhook HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise SendError(f"webhook: {type(error).__name__}") from None
