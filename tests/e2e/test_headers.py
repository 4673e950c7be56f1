"""The smaller points of issue 16 (item 7) against the running servers: the same security
headers on every response of the widget server (error pages and the demo file included),
and no version banner on the Rasa server."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.deploy import serve
from tests.e2e.conftest import Assistant

REQUIRED = ("x-content-type-options", "x-frame-options", "referrer-policy",
            "content-security-policy")


def fetch(port: int, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def web_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The widget's web server alone (the page names a Rasa server it does not need here)."""
    tmp: Path = tmp_path_factory.mktemp("web")
    config = serve.StackConfig(
        web_port=serve.free_port(), run_dir=tmp / "run", log_dir=tmp / "log",
        extra_env={"DATABASE_URL": f"sqlite:///{tmp / 'clinic.db'}",
                   "TRACKER_DB_URL": f"sqlite:///{tmp / 'tracker.db'}"},
    )
    serve.start_web(config, serve.server_env(config))
    try:
        assert config.web_port
        yield config.web_port
    finally:
        serve.stop(config)


def test_every_response_of_the_web_server_carries_the_security_headers(web_port: int) -> None:
    cases = [
        ("GET", "/", None, {}, 200), ("GET", "/demo.html", None, {}, 200),
        ("GET", "/static/demo.html", None, {}, 200), ("GET", "/static/clinic-chat.js", None, {}, 200),
        ("GET", "/health", None, {}, 200), ("GET", "/no-such-page", None, {}, 404),
        ("GET", "/static/../bot/settings.py", None, {}, 404), ("POST", "/health", b"", {}, 405),
        ("POST", "/feedback", b"x" * 100_000, {"Content-Type": "application/json"}, 413),
        ("POST", "/feedback", b"{}", {"Content-Type": "application/json"}, 400),
        ("POST", "/feedback", b"{}", {"Content-Type": "application/json",
                                      "Origin": "https://evil.example"}, 403),
    ]
    for method, path, body, headers, expected in cases:
        status, got, _ = fetch(web_port, method, path, body, headers)
        assert status == expected, (method, path, status)
        missing = [name for name in REQUIRED if name not in got]
        assert missing == [], (method, path, missing)
        assert "frame-ancestors 'none'" in got["content-security-policy"], path
        assert got["x-frame-options"] == "DENY" and got["x-content-type-options"] == "nosniff"
        assert "aiohttp" not in got.get("server", "") and "Python" not in got.get("server", "")


def test_the_demo_file_is_never_served_without_its_policy(web_port: int) -> None:
    _, page_headers, page = fetch(web_port, "GET", "/")
    _, file_headers, copy = fetch(web_port, "GET", "/static/demo.html")
    assert copy == page
    assert file_headers["content-security-policy"] == page_headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in file_headers["content-security-policy"]


def test_the_rasa_server_does_not_announce_its_version(assistant: Assistant) -> None:
    status, headers, body = fetch(assistant.config.rasa_port, "GET", "/")
    assert status == 200  # the liveness probe still gets its answer
    assert json.loads(body) == {"status": "ok"}
    assert "rasa" not in body.decode().lower() and "3.6" not in body.decode()
    assert not any("rasa" in value.lower() or "sanic" in value.lower()
                   for value in headers.values()), headers
    for path in ("/version", "/version/"):  # Rasa serves it without the token otherwise
        status, _, body = fetch(assistant.config.rasa_port, "GET", path)
        assert status == 404 and b"3.6" not in body, (path, body)


# --- aiohttp 3.9.5's advisories, checked against what the servers run (README table) ------


def test_the_servers_parse_http_with_aiohttps_c_parser() -> None:
    """The request-smuggling advisories (CVE-2024-52304, CVE-2025-53643, the header-value
    unicode one) are in the pure-Python parser; the C parser (llhttp) is the one in use."""
    import aiohttp
    import aiohttp.web_protocol as protocol

    assert aiohttp.__version__ == "3.9.5"  # re-check the README table when this changes
    assert protocol.HttpRequestParser.__module__ == "aiohttp._http_parser"
    assert "AIOHTTP_NO_EXTENSIONS" not in serve.server_env(serve.StackConfig())


def raw(port: int, data: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_a_smuggled_request_in_a_chunk_extension_is_refused(web_port: int) -> None:
    smuggled = (b"POST /feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n2;\nxx\r\n4c\r\n0\r\n\r\n"
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = raw(web_port, smuggled)
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400")), answer[:200]
    assert answer.count(b"HTTP/1.") == 1  # the hidden GET was never answered
    assert b"aiohttp" not in answer.lower()  # no version banner, even on this error


def test_a_compressed_request_body_is_never_inflated(web_port: int) -> None:
    """The zip-bomb advisory (CVE-2025-69223): 50 MB of zeros in 50 kB of gzip is refused as
    not JSON, without being inflated (inflated, it would be over the 64 KiB limit: 413)."""
    import gzip

    bomb = gzip.compress(b"0" * 50_000_000)
    assert len(bomb) < 64 * 1024
    status, _, body = fetch(web_port, "POST", "/feedback", bomb, {
        "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert status == 400 and b"not valid JSON" in body
    assert fetch(web_port, "GET", "/health")[0] == 200
