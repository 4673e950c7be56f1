"""No version banner on the Rasa server's ``GET /`` (issue 16, item 7).

Rasa answers ``GET /`` with ``Hello from Rasa: 3.6.21``, which tells anyone which
advisories apply. The route stays (the Kubernetes liveness probe and load balancers use it)
but answers ``{"status": "ok"}``. Rasa's ``GET /version``, which it serves without the token
even though the HTTP API is on (behind the generated token), answers 404. Installed when the
REST channel is created, which Rasa does before it builds its web application.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    import rasa.server
    from sanic import response

    if getattr(rasa.server.add_root_route, "_clinic_quiet", False):
        return

    def add_root_route(app: Any) -> None:
        @app.get("/")
        async def hello(_request: Any) -> Any:
            return response.json({"status": "ok"})

        @app.middleware("request")
        async def no_version(request: Any) -> Any:
            if request.path.rstrip("/") == "/version":
                return response.json({"error": "not found"}, status=404)
            return None

    add_root_route._clinic_quiet = True  # type: ignore[attr-defined]
    rasa.server.add_root_route = add_root_route
