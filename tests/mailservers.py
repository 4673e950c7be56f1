"""Real local servers for the notification tests: SMTP with STARTTLS (aiosmtpd) and a
webhook receiver, on free loopback ports. Each can be slowed down, made to fail, stopped."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from aiosmtpd.controller import Controller

from bot.deploy.serve import free_port


def self_signed(folder: Path) -> Path:
    """A certificate for 127.0.0.1 and its key (one PEM file each); returns the cert path."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path


@dataclass
class Received:
    sender: str
    recipients: List[str]
    message: email.message.EmailMessage


@dataclass
class Handler:
    received: List[Received] = field(default_factory=list)
    delay: float = 0.0
    refuse: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        import asyncio

        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse:
            return "451 4.3.0 try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a free port, STARTTLS required before MAIL."""

    def __init__(self, folder: Path, port: Optional[int] = None) -> None:
        self.cert = self_signed(folder)
        self.key = folder / "smtp-key.pem"
        self.port = port or free_port()
        self.handler = Handler()
        self.controller: Optional[Controller] = None

    def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     tls_context=context, require_starttls=True)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def env(self) -> Dict[str, str]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port),
                "SMTP_CA_FILE": str(self.cert), "NOTIFY_EMAIL_FROM": "assistant@clinic.test",
                "NOTIFY_EMAIL_TO": "frontdesk@clinic.test", "SMTP_TIMEOUT": "10"}

    def wait_for(self, count: int, timeout: float = 30) -> List[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.handler.lock:
                if len(self.handler.received) >= count:
                    return list(self.handler.received)
            time.sleep(0.1)
        return list(self.handler.received)


class WebhookReceiver:
    """An HTTP server that records each POST (headers and body) and answers ``status``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: List[Dict[str, Any]] = []
        self.status = 200
        receiver = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.calls.append({"headers": dict(self.headers), "body": body,
                                       "json": json.loads(body or b"{}"),
                                       "status": receiver.status})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"
