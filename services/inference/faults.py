"""Opt-in fault injection for chaos tests and demos (off unless a setting turns it on).

On the scoring routes only (``/api/v1/predict…``; probes, metrics and admin stay healthy):
every request waits ``latency_ms`` first, then a ``error_rate`` fraction is answered with a
500 in the usual JSON error shape, code ``injected_fault``. The rollout controller's error
and latency gates can be exercised with a canary that sets ``INFERENCE_FAULT_*``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from loguru import logger
from starlette.types import ASGIApp, Receive, Scope, Send

from services.core.telemetry import SCORING_PREFIX
from services.core.web.asgi import send_error


class FaultInjectionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        error_rate: float,
        latency_ms: float,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.app, self.error_rate, self.delay = app, error_rate, latency_ms / 1000.0
        self.draw = draw
        logger.warning(
            "fault injection ON: error rate {:.3f}, added latency {} ms", error_rate, latency_ms
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(SCORING_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error_rate and self.draw() < self.error_rate:
            await send_error(send, 500, "injected_fault", "fault injection: simulated error")
            return
        await self.app(scope, receive, send)
