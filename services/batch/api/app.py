"""``create_app(settings)``: the batch job API.

The model contract (only ``contract.json``, not the booster) of the version ``model_uri``
names is loaded at start-up; each submit pins the version the URI names then and checks
the input against that version's contract (``BatchService.pin_model``). A contract that
cannot be read at start-up leaves the API up but not ready, and submits get 503. A Redis
error anywhere becomes 503 with a message saying nothing was accepted. Every /api/v1 route
checks the API key, then the key's rate limit (``BATCH_RATE_LIMIT``; 429 + Retry-After).
Probes and scrapes are left out of the access log unless access_log_probes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from loguru import logger
from redis import RedisError
from starlette.concurrency import run_in_threadpool

from services.batch.api import routes_jobs, routes_ops, routes_results
from services.batch.api.openapi import SchemaCache, install_openapi
from services.batch.domain import BadInput
from services.batch.metrics import api_registry
from services.batch.service.batch_service import BatchService
from services.batch.settings import BatchSettings, get_settings
from services.batch.state.backend import Backend
from services.core.errors import Unavailable
from services.core.registry import use_service_client_defaults
from services.core.web.access_log import AccessLogMiddleware
from services.core.web.auth import ApiKeyAuth
from services.core.web.errors import error_body, install_error_handlers
from services.core.web.limits import BodySizeLimitMiddleware
from services.core.web.methods import AllowAllMethods
from services.core.web.ratelimit import install_limiter
from services.core.web.request_id import RequestIdMiddleware


def create_app(settings: BatchSettings | None = None) -> FastAPI:
    use_service_client_defaults()  # registry calls fail in seconds, not minutes
    settings = settings or get_settings()
    backend = Backend.connect(settings)
    service = BatchService(backend, None, "still loading")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:  # the version model_uri names now: its contract until a submit pins another
            await run_in_threadpool(service.pin_model)
        except Unavailable as exc:
            service.model_error = exc.message
            logger.error("batch API not ready: {}", exc.message)
        yield
        backend.redis.close()

    app = FastAPI(title="Credit-risk batch scoring", version="1", lifespan=lifespan)
    app.state.service = service
    app.state.auth = ApiKeyAuth([*settings.api_key_hashes, *settings.admin_key_hashes])
    app.state.limiter = install_limiter(
        app, settings.rate_limit, settings.rate_limit_storage_uri, "batch"
    )
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
    app.add_middleware(AccessLogMiddleware, log_probes=settings.access_log_probes)
    app.add_middleware(RequestIdMiddleware)
    install_openapi(app, cache)
    return app
