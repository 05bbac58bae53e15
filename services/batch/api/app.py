"""``create_app(settings)``: the batch job API.

The model contract is loaded at start-up (to check inputs at submit); a model that cannot
load leaves the API up but not ready, and submits get 503. A Redis error anywhere becomes
503 with a message saying nothing was accepted.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from loguru import logger
from redis import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.batch.api import routes_jobs, routes_ops, routes_results
from services.batch.api.openapi import SchemaCache, install_openapi
from services.batch.domain import BadInput
from services.batch.metrics import api_registry
from services.batch.service.batch_service import BatchService
from services.batch.settings import BatchSettings, get_settings
from services.batch.state.backend import Backend
from services.core.model_store import ModelLoadError, load_model
from services.core.registry import use_service_client_defaults
from services.core.web.auth import ApiKeyAuth
from services.core.web.errors import error_body, install_error_handlers
from services.core.web.limits import BodySizeLimitMiddleware
from services.core.web.methods import AllowAllMethods
from services.core.web.request_id import RequestIdMiddleware


class AccessLog:
    """One log line per request (method, path, status, milliseconds), with its request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            ms = (time.perf_counter() - started) * 1000
            logger.info("{} {} {} {:.1f} ms", scope["method"], scope["path"], status[0], ms)


def create_app(settings: BatchSettings | None = None) -> FastAPI:
    use_service_client_defaults()  # registry calls fail in seconds, not minutes
    settings = settings or get_settings()
    backend = Backend.connect(settings)
    service = BatchService(backend, None, "still loading")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            model = await run_in_threadpool(
                load_model, settings.model_uri, settings.mlflow_tracking_uri, 1
            )
            service.contract, service.model_error = model.contract, None
        except ModelLoadError as exc:
            service.model_error = str(exc)
            logger.error("batch API not ready: {}", exc)
        yield
        backend.redis.close()

    app = FastAPI(title="Credit-risk batch scoring", version="1", lifespan=lifespan)
    app.state.service = service
    app.state.auth = ApiKeyAuth(settings.api_key_hashes)
    app.state.metrics = api_registry(backend.store, backend.enqueuer.queue)
    app.state.submit_schemas = cache = SchemaCache(service)
    install_error_handlers(app)

    @app.exception_handler(RedisError)
    async def _redis_down(_: Request, exc: RedisError) -> JSONResponse:
        message = (
            f"job queue unavailable (Redis at {backend.target}: {exc}); "
            "nothing was accepted or changed, retry later"
        )
        return JSONResponse(error_body("unavailable", message), 503, headers={"Retry-After": "5"})

    @app.exception_handler(BadInput)
    async def _bad_input(_: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse(error_body("invalid_input", exc.message, exc.details), 422)

    for router in (routes_jobs.router, routes_results.router, routes_ops.router):
        app.include_router(router)
    app.add_middleware(AllowAllMethods)  # a 405 lists every method of its path
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(AccessLog)
    app.add_middleware(RequestIdMiddleware)
    install_openapi(app, cache)
    return app
