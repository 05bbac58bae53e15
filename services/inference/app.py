"""``create_app(settings)``: the inference service as one FastAPI application.

Request path (outermost first): request id → [access log] → HTTP metrics → body-size
limit → [fault injection] → routing → API key → rate limit → validation → scoring. All
middlewares are pure ASGI (no per-request task or body copy). The model loads in the
lifespan; if it cannot, the app still starts, ``/readyz`` says why, and a background task
keeps trying.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.writer import DecisionWriter
from services.core.registry import use_service_client_defaults
from services.core.web.access_log import AccessLogMiddleware
from services.core.web.auth import ApiKeyAuth
from services.core.web.errors import install_error_handlers
from services.core.web.limits import BodySizeLimitMiddleware
from services.core.web.methods import AllowAllMethods
from services.core.web.ratelimit import install_limiter
from services.core.web.request_id import RequestIdMiddleware
from services.inference.faults import FaultInjectionMiddleware
from services.inference.metrics import InferenceMetrics
from services.inference.middleware import HttpMetricsMiddleware
from services.inference.openapi import install_openapi
from services.inference.routes import admin, decisions, health, model, predict
from services.inference.runtime import ModelRuntime
from services.inference.scoring import Scorer
from services.inference.settings import InferenceSettings, get_settings
from services.inference.watcher import AliasWatcher

DESCRIPTION = "Real-time credit-default scoring. Send `X-API-Key` on /api/v1/* routes."
# FastAPI's native OpenTelemetry: off. The service exports Prometheus metrics (metrics.py)
# and configures no OpenTelemetry provider; left on, FastAPI asks the global providers on
# every request whether they are configured (≈ 10 µs of a ≈ 230 µs request).
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

use_service_client_defaults()  # registry calls fail in seconds, not minutes


def create_app(
    settings: InferenceSettings | None = None, record: DecisionSettings | None = None
) -> FastAPI:
    settings = settings or get_settings()
    record = record or DecisionSettings()
    metrics = InferenceMetrics()
    runtime = ModelRuntime(settings, metrics)
    watcher = AliasWatcher(runtime)
    # a shadow pod answers mirrored copies no applicant receives: they are no decisions
    recording = record.enabled and not settings.shadow
    writer = DecisionWriter(record, DecisionMetrics(metrics.registry)) if recording else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if writer is not None:
            writer.start()
        await runtime.reload()
        watcher.start()
        yield
        await watcher.stop()
        if writer is not None:  # after the last request (uvicorn drains them first)
            await anyio.to_thread.run_sync(writer.close)

    app = FastAPI(
        title="Credit-risk inference",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.settings, app.state.runtime, app.state.metrics = settings, runtime, metrics
    app.state.decisions = writer  # None: the record is off (no DECISIONS_DSN, or shadow)
    app.state.scorer = Scorer(metrics, settings.reasons_top_k)  # the data plane
    app.state.auth = ApiKeyAuth(settings.api_key_hashes)
    install_error_handlers(app)
    # slowapi + limits (0.1-0.4 s of start-up) are imported only when a limit is set
    limiter = install_limiter(
        app, settings.rate_limit, settings.redis_url, settings.rate_limit_prefix
    )
    app.state.limiter, app.state.watcher = limiter, watcher
    routers = [predict.router, model.router, admin.router, decisions.router, health.router]
    for router in routers:
        app.include_router(router)
    if settings.faults_enabled:
        app.add_middleware(
            FaultInjectionMiddleware,
            error_rate=settings.fault_error_rate,
            latency_ms=settings.fault_latency_ms,
        )
    app.add_middleware(AllowAllMethods)  # a 405 lists every method of its path
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        HttpMetricsMiddleware,
        metrics=metrics,
        runtime=runtime,
        routes=[r for router in routers for r in router.routes],
    )
    if settings.access_log:
        app.add_middleware(AccessLogMiddleware, log_probes=settings.access_log_probes)
    app.add_middleware(RequestIdMiddleware)
    install_openapi(app, runtime)
    return app
