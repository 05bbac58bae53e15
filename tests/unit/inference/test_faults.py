"""Opt-in fault injection (pure ASGI), only on the scoring routes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from services.inference.faults import FaultInjectionMiddleware

pytestmark = pytest.mark.unit


async def inner(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def call(app: Any, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    await app({"type": "http", "path": path}, receive, send)
    return sent[0]["status"], sent[1]["body"]


async def test_error_rate_one_answers_500_in_the_error_shape() -> None:
    app = FaultInjectionMiddleware(inner, error_rate=1.0, latency_ms=0)
    status, body = await call(app, "/api/v1/predict")
    assert status == 500
    assert json.loads(body)["error"]["code"] == "injected_fault"
    assert await call(app, "/healthz") == (200, b"ok")  # probes stay healthy
    assert await call(app, "/api/v1/model/info") == (200, b"ok")


async def test_a_fraction_fails_as_drawn() -> None:
    draws = iter([0.05, 0.5, 0.09, 0.95])
    app = FaultInjectionMiddleware(inner, error_rate=0.1, latency_ms=0, draw=lambda: next(draws))
    statuses = [(await call(app, "/api/v1/predict/bulk"))[0] for _ in range(4)]
    assert statuses == [500, 200, 500, 200]


async def test_latency_is_added() -> None:
    app = FaultInjectionMiddleware(inner, error_rate=0.0, latency_ms=30)
    started = time.perf_counter()
    assert await call(app, "/api/v1/predict") == (200, b"ok")
    assert time.perf_counter() - started >= 0.03
