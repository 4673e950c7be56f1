"""Signature helpers agree with the providers' own algorithms and refuse forgeries."""

from __future__ import annotations

import hashlib
import hmac
import time

from twilio.request_validator import RequestValidator

from bot.channels import signatures

TOKEN = "twilio-auth-token"
URL = "https://clinic.example/webhooks/twilio/webhook"
PARAMS = [
    ("AccountSid", "AC123"), ("From", "+14035550100"), ("To", "+15875550199"),
    ("Body", "what's butyrate?"), ("FromCity", ""), ("NumMedia", "0"), ("MessageSid", "SM1"),
]


def test_twilio_signature_matches_twilios_own_validator() -> None:
    expected = RequestValidator(TOKEN).compute_signature(URL, dict(PARAMS))
    assert signatures.twilio_signature(URL, PARAMS, TOKEN) == expected
    assert signatures.valid_twilio(URL, PARAMS, expected, TOKEN)


def test_twilio_accepts_the_url_signed_with_the_default_port() -> None:
    signed = RequestValidator(TOKEN).compute_signature(
        "https://clinic.example:443/webhooks/twilio/webhook", dict(PARAMS))
    assert signatures.valid_twilio(URL, PARAMS, signed, TOKEN)


def test_twilio_rejects_forgeries() -> None:
    good = signatures.twilio_signature(URL, PARAMS, TOKEN)
    tampered = [(k, "book me in" if k == "Body" else v) for k, v in PARAMS]
    assert not signatures.valid_twilio(URL, tampered, good, TOKEN)
    assert not signatures.valid_twilio(URL, PARAMS, good, "another-token")
    assert not signatures.valid_twilio(URL.replace("clinic", "evil"), PARAMS, good, TOKEN)
    assert not signatures.valid_twilio(URL, PARAMS, None, TOKEN)
    assert not signatures.valid_twilio(URL, PARAMS, "", TOKEN)
    # a blank parameter is part of what Twilio signs: dropping it breaks the signature
    dropped = [(k, v) for k, v in PARAMS if v]
    assert not signatures.valid_twilio(URL, dropped, good, TOKEN)


def _slack(secret: str, timestamp: str, body: bytes) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def test_slack_signature_is_accepted_within_five_minutes() -> None:
    body = b'{"type":"event_callback"}'
    now = time.time()
    stamp = str(int(now) - 299)
    assert signatures.valid_slack("secret", stamp, body, _slack("secret", stamp, body), now)


def test_slack_rejects_old_forged_or_unsigned_requests() -> None:
    body = b'{"type":"event_callback"}'
    now = time.time()
    old = str(int(now) - 301)
    assert not signatures.valid_slack("secret", old, body, _slack("secret", old, body), now)
    stamp = str(int(now))
    assert not signatures.valid_slack("secret", stamp, body, _slack("other", stamp, body), now)
    assert not signatures.valid_slack("secret", stamp, body + b" ", _slack("secret", stamp, body),
                                      now)
    assert not signatures.valid_slack("secret", None, body, None, now)
    assert not signatures.valid_slack("secret", "yesterday", body, "v0=00", now)
    assert not signatures.valid_slack("", stamp, body, _slack("", stamp, body), now)


def test_hub_signature_sha256_and_legacy_sha1() -> None:
    body = b'{"object":"page"}'
    sha256 = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    sha1 = "sha1=" + hmac.new(b"app-secret", body, hashlib.sha1).hexdigest()
    assert signatures.valid_hub_signature("app-secret", body, sha256, None)
    assert signatures.valid_hub_signature("app-secret", body, None, sha1)
    assert signatures.valid_hub_signature("app-secret", body, sha256, sha1)


def test_hub_signature_rejects_forgeries_and_other_algorithms() -> None:
    body = b'{"object":"page"}'
    wrong = "sha256=" + hmac.new(b"guess", body, hashlib.sha256).hexdigest()
    md5 = "md5=" + hmac.new(b"app-secret", body, hashlib.md5).hexdigest()
    sha1 = "sha1=" + hmac.new(b"app-secret", body, hashlib.sha1).hexdigest()
    assert not signatures.valid_hub_signature("app-secret", body, wrong, None)
    assert not signatures.valid_hub_signature("app-secret", body, None, md5)
    # a bad sha256 header is not rescued by a good sha1 one
    assert not signatures.valid_hub_signature("app-secret", body, wrong, sha1)
    assert not signatures.valid_hub_signature("app-secret", body, None, None)


def test_telegram_secret_is_stable_valid_and_checked() -> None:
    secret = signatures.telegram_secret("123456:ABC")
    assert secret == signatures.telegram_secret("123456:ABC")
    assert secret != signatures.telegram_secret("123456:XYZ")
    assert 1 <= len(secret) <= 256 and secret.isalnum()
    assert signatures.telegram_secret("123456:ABC", "chosen_secret") == "chosen_secret"
    assert signatures.valid_telegram(secret, secret)
    assert not signatures.valid_telegram(secret, None)
    assert not signatures.valid_telegram(secret, secret[:-1])
