"""Checks that a webhook request really comes from the provider (pure functions).

- Twilio signs ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the auth token, of the
  URL Twilio called followed by every POST parameter (name + value) sorted by name. Rasa's
  TwilioInput checks nothing.
- Slack signs ``X-Slack-Signature``: ``v0=`` + hex HMAC-SHA256, keyed with the signing
  secret, of ``v0:{X-Slack-Request-Timestamp}:{body}``; requests older than five minutes are
  replays. Rasa's SlackInput checks the same (and answers 400); we answer 403.
- Meta signs ``X-Hub-Signature-256`` (``sha256=`` + hex HMAC-SHA256 of the body, keyed with
  the app secret) and still the older ``X-Hub-Signature`` (sha1). Rasa's FacebookInput reads
  only the sha1 header, lets the header pick any hashlib algorithm, compares with ``==`` and
  answers 200 on failure.
- Telegram does not sign; it repeats the ``secret_token`` given to setWebhook in
  ``X-Telegram-Bot-Api-Secret-Token``.

Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Iterable, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

SLACK_MAX_AGE_SECONDS = 5 * 60


def _same(expected: str, given: Optional[str]) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


# -- Twilio --------------------------------------------------------------------------------


def twilio_signature(url: str, params: Iterable[Tuple[str, str]], auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a form POST to ``url``."""
    data = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_and_without_port(url: str) -> Tuple[str, ...]:
    """Twilio may sign the URL with or without the default port; accept either."""
    parts = urlsplit(url)
    if not parts.hostname:
        return (url,)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = 443 if parts.scheme == "https" else 80
    without = urlunsplit(parts._replace(netloc=host)) if parts.port in (None, default) else url
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
    return tuple(dict.fromkeys((url, without, with_port)))


def valid_twilio(
    url: str, params: Iterable[Tuple[str, str]], signature: Optional[str], auth_token: str
) -> bool:
    if not signature or not auth_token:
        return False
    pairs = list(params)
    return any(
        _same(twilio_signature(candidate, pairs, auth_token), signature)
        for candidate in _with_and_without_port(url)
    )


# -- Slack ---------------------------------------------------------------------------------


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def valid_slack(
    signing_secret: str,
    timestamp: Optional[str],
    body: bytes,
    signature: Optional[str],
    now: Optional[float] = None,
) -> bool:
    if not signing_secret or not signature or not timestamp:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - sent) > SLACK_MAX_AGE_SECONDS:
        return False
    return _same(slack_signature(signing_secret, timestamp, body), signature)


# -- Meta (Messenger) ----------------------------------------------------------------------


def hub_signature(app_secret: str, body: bytes, algorithm: str = "sha256") -> str:
    digest_module = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}[algorithm]
    return f"{algorithm}=" + hmac.new(app_secret.encode("utf-8"), body, digest_module).hexdigest()


def valid_hub_signature(
    app_secret: str, body: bytes, sha256_header: Optional[str], sha1_header: Optional[str]
) -> bool:
    """X-Hub-Signature-256 when present (Meta sends it), else the legacy sha1 header."""
    if not app_secret:
        return False
    if sha256_header:
        return _same(hub_signature(app_secret, body, "sha256"), sha256_header.strip())
    if sha1_header:
        return _same(hub_signature(app_secret, body, "sha1"), sha1_header.strip())
    return False


# -- Telegram ------------------------------------------------------------------------------


def telegram_secret(bot_token: str, configured: Optional[str] = None) -> str:
    """The webhook secret token: the configured one, else one derived from the bot token.

    Deriving it means every deployment checks the header without another setting; it is
    64 hex characters, inside Telegram's 1-256 ``[A-Za-z0-9_-]`` rule.
    """
    if configured:
        return configured
    return hmac.new(bot_token.encode("utf-8"), b"clinic-telegram-webhook", hashlib.sha256).hexdigest()


def valid_telegram(expected_secret: str, header: Optional[str]) -> bool:
    return bool(expected_secret) and _same(expected_secret, header)
