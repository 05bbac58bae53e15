"""``LeanRoute``: an ``APIRoute`` that skips FastAPI's per-request parameter solving when
there is nothing to solve.

The scoring routes take only the ``Request`` and optional query parameters (``explain``)
and read their bodies themselves. FastAPI still solves the route's dependencies on every
request (query parsing and validation through pydantic, an exit stack, the dependency
cache): measurable on a route whose whole answer costs a few hundred µs. A request without
a query string has nothing to solve: every parameter takes its declared default, so the
endpoint is called with the request alone. A request with a query string goes through
FastAPI's own handler, unchanged (validation, 422s). The OpenAPI document is generated
from the route's signature as before; only the per-request handler differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved = super().get_route_handler()
        endpoint = self.endpoint
        if not lean_endpoint(endpoint):
            return solved

        async def handler(request: Request) -> Response:
            if request.scope.get("query_string"):
                return await solved(request)
            response: Response = await endpoint(request)
            return response

        return handler


def lean_endpoint(endpoint: Callable[..., Any]) -> bool:
    """An ``async`` endpoint whose first parameter is the request and whose others all
    have defaults (query parameters), returning a ``Response`` itself."""
    if not inspect.iscoroutinefunction(endpoint):
        return False
    params = list(inspect.signature(endpoint).parameters.values())
    if not params or params[0].name != "request":
        return False
    return all(p.default is not inspect.Parameter.empty for p in params[1:])
