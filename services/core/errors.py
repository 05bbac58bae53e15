"""The errors a service raises on purpose: one base class carrying its HTTP status.

Pure (no web framework): the data planes raise them, ``services.core.web.errors`` turns
them into JSON bodies in one exception handler. ``validation_details`` makes the 422's
``details`` — one ``{loc, msg, type}`` per field — from pydantic's or FastAPI's error
dicts; nothing else of them reaches the client (no input echo, no documentation URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

MAX_DETAILS = 50  # details listed in one answer; the message counts all of them


def validation_details(
    errors: Iterable[Mapping[str, Any]], prefix: Sequence[str] = (), limit: int | None = None
) -> list[dict[str, Any]]:
    """``{"loc": [*prefix, *loc], "msg", "type"}`` per error, the first ``limit`` of them."""
    details = [
        {
            "loc": [*prefix, *(str(p) for p in err.get("loc", ()))],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in errors
    ]
    return details if limit is None else details[:limit]


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
