"""The same security headers on every response of an aiohttp server (issue 16, item 7).

A middleware only sees what its handler returns: a redirect or error raised as an exception,
the router's 404/405, a 413 for a body over the limit and static files would go out bare.
``on_response_prepare`` runs for every response the application sends, those included. A
header a handler set itself (the demo page's own Content-Security-Policy) is kept.
"""

from __future__ import annotations

from typing import Mapping

from aiohttp import web

# For responses that are not pages (JSON, files, errors): nothing may run, embed or frame.
STRICT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": STRICT_POLICY,
}


def add_security_headers(app: web.Application, headers: Mapping[str, str] = COMMON) -> None:
    """Put ``headers`` on every response ``app`` sends (unless the handler set its own)."""
    fixed = dict(headers)

    async def on_prepare(_request: web.Request, response: web.StreamResponse) -> None:
        for name, value in fixed.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(on_prepare)  # type: ignore[arg-type]  # aiohttp 3.9 stub
