"""Validation errors as the ``details`` of a 422 body: one ``{loc, msg, type}`` per field.

Takes the error dicts of pydantic (``ValidationError.errors()``) or FastAPI
(``RequestValidationError.errors()``); nothing else of them reaches the client (no input
echo, no documentation URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
