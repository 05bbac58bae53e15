"""Request metrics as a pure ASGI middleware.

Sits inside the request-id middleware (and the optional access log) and outside everything
that can answer early (body limit, fault injection, rate limit, auth), so every answer is
counted: ``http_requests_total`` and ``http_request_duration_seconds`` by route template
(``unmatched`` for unknown paths, to bound cardinality), method and status code.
Answers given before routing (413, injected faults) are labelled with the route their
path matches, so a canary's error ratio per route includes them.
"""

from __future__ import annotations

import time

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from services.core.web.asgi import StatusSend
from services.inference.metrics import InferenceMetrics
from services.inference.runtime import ModelRuntime


class HttpMetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: InferenceMetrics,
        runtime: ModelRuntime,
        routes: list[BaseRoute],
    ) -> None:
        self.app, self.metrics, self.runtime, self.routes = app, metrics, runtime, routes
        self.idle = ("none", "none", runtime.settings.track)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, answer = time.perf_counter(), StatusSend(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            self._record(scope, answer.status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        template = self._template(scope)
        labels = scope.get("state", {}).get("model_labels")
        if labels is None:
            current = self.runtime.current
            labels = current.labels if current is not None else self.idle
        self.metrics.observe_request(labels, template, scope["method"], status, seconds)

    def _template(self, scope: Scope) -> str:
        """The matched route's path template; for answers given before routing (413,
        injected faults) the route the path would have matched; else ``unmatched``."""
        route = scope.get("route")
        for candidate in self.routes if route is None else ():
            match, child = candidate.matches(scope)
            if match is Match.FULL:
                route = child.get("route", candidate)
                break
        return getattr(route, "path", None) or "unmatched"
