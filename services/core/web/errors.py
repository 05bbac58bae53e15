"""One error vocabulary for the HTTP services, turned into JSON bodies in one place.

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
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core.logs import request_id_var
from services.core.web.details import MAX_DETAILS, validation_details


class ServiceError(Exception):
    """Base of every error a route raises on purpose; carries its HTTP status."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, details: list[Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers


class Unauthorized(ServiceError):
    status_code, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status_code, code = 403, "forbidden"


class NotFound(ServiceError):
    status_code, code = 404, "not_found"


class Conflict(ServiceError):
    status_code, code = 409, "conflict"


class PayloadTooLarge(ServiceError):
    status_code, code = 413, "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status_code, code = 415, "unsupported_media_type"


class InvalidInput(ServiceError):
    status_code, code = 422, "invalid_input"

    @classmethod
    def of(
        cls, exc: ValidationError, prefix: tuple[str, ...] = ("body",), limit: int = MAX_DETAILS
    ) -> InvalidInput:
        """422 for a body that failed pydantic validation: ``"N validation error(s)"`` and
        the first ``limit`` field details, each ``loc`` under ``prefix``."""
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        more = f" (first {limit} shown)" if len(errors) > limit else ""
        details = validation_details(errors, prefix, limit)
        return cls(f"{len(errors)} validation error(s){more}", details)


class IdempotencyKeyReused(ServiceError):
    """An Idempotency-Key sent again with a different request (IETF draft
    ``httpapi-idempotency-key-header``: 422)."""

    status_code, code = 422, "idempotency_key_reused"


class Unavailable(ServiceError):
    status_code, code = 503, "unavailable"


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
