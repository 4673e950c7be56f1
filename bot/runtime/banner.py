"""No version banner on the Rasa server's ``GET /`` (issue 16, item 7).

Rasa answers ``GET /`` with ``Hello from Rasa: 3.6.21``, which tells anyone which
advisories apply. The route stays (the Kubernetes liveness probe and load balancers use it)
but answers ``{"status": "ok"}``. Rasa's ``GET /version``, which it serves without the token
even though the HTTP API is on (behind the generated token), answers 404. Installed by
``bot.runtime.install`` at server start, before Rasa builds its web application.
"""

from __future__ import annotations

import functools
from typing import Any


_MARK = "_clinic_quiet"


def install() -> bool:
    """Replace ``rasa.server.add_root_route`` once; True if this call did it."""
    import rasa.server
    from sanic import response

    if getattr(rasa.server.add_root_route, _MARK, False):
        return False

    @functools.wraps(rasa.server.add_root_route)
    def add_root_route(app: Any) -> None:
        @app.get("/")
        async def hello(_request: Any) -> Any:
            return response.json({"status": "ok"})

        @app.middleware("request")
        async def no_version(request: Any) -> Any:
            if request.path.rstrip("/") == "/version":
                return response.json({"error": "not found"}, status=404)
            return None

    setattr(add_root_route, _MARK, True)
    rasa.server.add_root_route = add_root_route
    return True
