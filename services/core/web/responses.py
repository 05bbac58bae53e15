"""The error body in the OpenAPI document: one model, and each route's error statuses.

``ErrorResponse`` documents what ``services.core.web.errors`` sends for every error.
A service declares once what each status means for it, then lists a route's statuses::

    error_responses = ErrorDocs({401: "missing key", 422: "validation failed"})
    @router.post("/x", responses=error_responses(401, 422))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable error code, e.g. invalid_input")
    message: str
    details: list[Any] = Field(
        default_factory=list, description="per field on 422: {loc, msg, type}"
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail
    request_id: str


class ErrorDocs:
    """OpenAPI ``responses`` entries for error statuses, with a service's own meanings.

    ``always``: statuses every route documented this way can answer (e.g. the API key's
    401/403), added to each call's.
    """

    def __init__(self, meanings: Mapping[int, str], always: Iterable[int] = ()) -> None:
        self.meanings, self.always = dict(meanings), tuple(always)

    def __call__(self, *codes: int) -> dict[int | str, dict[str, Any]]:
        return {
            code: {"model": ErrorResponse, "description": self.meanings[code]}
            for code in sorted({*codes, *self.always})
        }
