"""Read a JSON request body into a pydantic model: 415 unless JSON, 422 unless valid.

One pass through pydantic-core's JSON parser (no stdlib ``json`` round trip); a 422 names
each bad field under ``body`` (``services.core.web.errors.InvalidInput.of``).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request

from services.core.web.errors import InvalidInput, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
NOT_JSON = "send the body as JSON (Content-Type: application/json)"


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json`` (parameters ignored)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def require_json(request: Request) -> None:
    if not is_json(request.headers.get("content-type")):
        raise UnsupportedMediaType(NOT_JSON)


async def read_json(request: Request, model: type[M]) -> M:
    """The validated body, or 415 (not JSON) / 422 (invalid, with one detail per field)."""
    require_json(request)
    body = await request.body()
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput.of(exc) from None


def parse_json(raw: bytes, adapter: TypeAdapter[T]) -> T:
    """``raw`` validated by ``adapter``, or 422 with one detail per field."""
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        raise InvalidInput.of(exc) from None
