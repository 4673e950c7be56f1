"""What both aiohttp servers (the widget's and the staff page) share (issue 16, item 7):
the same security headers on every response, and serving without request decompression.

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
# aiohttp names itself and its version ("Python/3.10 aiohttp/3.9.5") in every response.
SERVER_NAME = "clinic-assistant"


def add_security_headers(app: web.Application, headers: Mapping[str, str] = COMMON) -> None:
    """Put ``headers`` on every response ``app`` sends (unless the handler set its own)."""
    fixed = dict(headers)
    fixed["Server"] = SERVER_NAME  # no version banner

    async def on_prepare(_request: web.Request, response: web.StreamResponse) -> None:
        for name, value in fixed.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(on_prepare)  # type: ignore[arg-type]  # aiohttp 3.9 stub


def run(app: web.Application, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, as ``web.run_app`` does, with request bodies never
    decompressed by the server (``auto_decompress=False``).

    aiohttp 3.9.5 inflates a gzip/deflate request body as it arrives, before any limit
    applies (the zip-bomb advisory fixed in 3.13.3, CVE-2025-69223). Nothing here accepts a
    compressed request: such a body reaches the handlers as it was sent and is refused as
    not JSON / not a form.
    """
    import asyncio

    from aiohttp import web_response

    # the low-level 400 for an unparsable request is made without the app's signals
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]

    async def serve() -> None:
        runner = web.AppRunner(app, handle_signals=True, auto_decompress=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            while True:
                await asyncio.sleep(3600)
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except (web.GracefulExit, KeyboardInterrupt):
        pass
