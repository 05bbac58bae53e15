"""One log line per request (method, path, status, milliseconds), as a pure ASGI middleware.

Sits inside the request-id middleware, so each line carries the request id. Probes and
scrapes (``/healthz``, ``/readyz``, ``/metrics``) are left out unless ``log_probes``: a
kubelet and a Prometheus would otherwise write most of the log.
"""

from __future__ import annotations

import time

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.telemetry import PROBE_PATHS


def is_logged(path: str, log_probes: bool) -> bool:
    return log_probes or path not in PROBE_PATHS


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, log_probes: bool = False) -> None:
        self.app, self.log_probes = app, log_probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_logged(scope["path"], self.log_probes):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an escaping exception becomes a 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            ms = (time.perf_counter() - started) * 1000
            logger.info("{} {} {} {:.1f} ms", scope["method"], scope["path"], status, ms)
