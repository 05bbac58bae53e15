"""``405 Method Not Allowed`` answers that list every method the path supports.

Starlette answers a known path with an unsupported method from the *first* route whose
path matches, so a path served by two routes (``GET`` and ``POST /api/v1/jobs``) said
``Allow: POST``. ``AllowAllMethods`` rewrites the ``Allow`` header of every 405 to the
union of the methods of all routes matching the path (RFC 9110 §15.5.6).

``OPTIONS`` is not served (no CORS here): it answers 405 with the full ``Allow`` like any
other undocumented method, so the OpenAPI document stays exact — it lists no ``OPTIONS``
operation, and no undocumented 2xx exists for a client generator to miss.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route fully matches for this request's path (asked of each route,
    so routers included with a prefix answer for their own routes)."""
    found = []
    for method in METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            found.append(method)
    return found


class AllowAllMethods:
    """Middleware: a 405 lists in ``Allow`` every method of every route on its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def fix_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(scope["app"].router.routes, scope)
                if methods:
                    headers = [
                        (k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"
                    ]
                    headers.append((b"allow", ", ".join(methods).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, fix_allow)
