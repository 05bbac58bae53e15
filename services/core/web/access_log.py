"""One log line per request (method, path, status, milliseconds), as a pure ASGI middleware.

Sits inside the request-id middleware, so each line carries the request id. Probes and
scrapes (``/healthz``, ``/readyz``, ``/metrics``) are left out unless ``log_probes``: a
kubelet and a Prometheus would otherwise write most of the log.
"""

from __future__ import annotations

import time

from loguru import logger
from starlette.types import ASGIApp, Receive, Scope, Send

from services.core.telemetry import PROBE_PATHS
from services.core.web.asgi import StatusSend


def is_logged(path: str, log_probes: bool) -> bool:
    return log_probes or path not in PROBE_PATHS


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, log_probes: bool = False) -> None:
        self.app, self.log_probes = app, log_probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_logged(scope["path"], self.log_probes):
            await self.app(scope, receive, send)
            return
        started, answer = time.perf_counter(), StatusSend(send)
        try:
            await self.app(scope, receive, answer)
        finally:
            ms = (time.perf_counter() - started) * 1000
            logger.info("{} {} {} {:.1f} ms", scope["method"], scope["path"], answer.status, ms)
