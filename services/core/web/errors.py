"""The error vocabulary (``services.core.errors``) turned into JSON bodies in one place.

Body: ``{"error": {"code": ..., "message": ..., "details": [...]}, "request_id": ...}``.
Validation errors become 422 with one detail per field (``loc``, ``msg``, ``type``);
anything unexpected becomes a logged 500 without internals.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    validation_details,
)
from services.core.logs import request_id_var

__all__ = [  # the error classes live in services.core.errors; importable here as before
    "Conflict",
    "Forbidden",
    "IdempotencyKeyReused",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "error_body",
    "install_error_handlers",
]


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "details": details or []},
        "request_id": request_id_var.get(),
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(
                "invalid_input", "request failed validation", validation_details(exc.errors())
            ),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body("http_error", str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.opt(exception=exc).error("unhandled error")
        return JSONResponse(error_body("internal", "internal error"), 500)
