"""A page on another site cannot start a turn (issue 16, item 2), in a real browser.

An attacker's page (served here from another port, so another origin) tries what a browser
allows without asking the server first: a ``no-cors`` fetch with a text/plain body, a form
posted to the webhook, and a JSON fetch (which needs a preflight). None of them may leave a
trace in the conversation store; the clinic's own page keeps working.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.deploy.serve import free_port
from tests.browser.conftest import Site

pytest.importorskip("playwright")

ATTACK = """<!doctype html><html><body><form id="f" method="post" enctype="text/plain"
target="sink" action="{webhook}"><input name='{{"sender":"{sender}-form","message":"hi","x":"'
value='"}}'></form><iframe name="sink"></iframe><pre id="out"></pre><script>
const out = document.getElementById("out");
const url = "{webhook}";
const say = (what) => {{ out.textContent += what + "\\n"; }};
async function attack() {{
  try {{
    await fetch(url, {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
      body: JSON.stringify({{sender: "{sender}-plain", message: "hello"}})}});
    say("plain sent");
  }} catch (e) {{ say("plain failed"); }}
  try {{
    await fetch(url, {{method: "POST", mode: "no-cors",
      body: new URLSearchParams({{sender: "{sender}-urlencoded", message: "hello"}})}});
    say("urlencoded sent");
  }} catch (e) {{ say("urlencoded failed"); }}
  try {{
    const r = await fetch(url, {{method: "POST", headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{sender: "{sender}-json", message: "hello"}})}});
    say("json read " + r.status);
  }} catch (e) {{ say("json blocked"); }}
  document.getElementById("f").submit();
  say("done");
}}
attack();
</script></body></html>"""


@pytest.fixture()
def attacker(site: Site) -> Iterator[tuple[str, str]]:
    """A page on another origin; its URL and the sender-id prefix it uses."""
    sender = f"attack-{uuid.uuid4().hex}"
    page = ATTACK.format(webhook=site.rasa_url + "/webhooks/rest/webhook", sender=sender)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            data = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", sender
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_cannot_start_a_turn(
    site: Site, attacker: tuple[str, str], new_page: Any
) -> None:
    url, sender = attacker
    page, _watch = new_page()
    page.goto(url)
    page.wait_for_function("() => document.getElementById('out').textContent.includes('done')")
    page.wait_for_timeout(1500)  # the form's post lands in the iframe
    log = page.locator("#out").text_content() or ""
    assert "plain sent" in log and "urlencoded sent" in log  # the browser did send them
    assert "json blocked" in log  # the preflight got no CORS permission
    for kind in ("plain", "urlencoded", "json", "form"):
        assert site.assistant.stored_events(f"{sender}-{kind}") == 0, kind
    # the clinic's own origin is still answered (no Origin check on what it may send)
    status, answer = site.assistant.post(
        b'{"sender": "%s-own", "message": "hello"}' % sender.encode(),
        {"Content-Type": "application/json", "Origin": site.web_url},
    )
    assert status == 200 and answer
    assert site.assistant.stored_events(f"{sender}-own") > 0
