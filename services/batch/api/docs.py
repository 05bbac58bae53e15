"""What the OpenAPI document says the job API answers: what each error status means here
(the shared error body and ``ErrorDocs`` come from ``services.core.web.responses``), and
the result page of a JSON results request."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.core.web.responses import ErrorDocs


class ResultPage(BaseModel):
    """``format=json``: result rows ``offset`` .. ``offset + limit - 1`` (0-based)."""

    job_id: str
    offset: int
    limit: int
    total: int
    next_offset: int | None
    rows: list[dict[str, Any]]


MEANINGS = {
    400: "malformed request body (e.g. a broken multipart form)",
    401: "missing X-API-Key (when keys are configured)",
    403: "wrong X-API-Key",
    404: "no such job (unknown, or its results expired)",
    409: "the job is not in a state that allows this",
    413: "body larger than max_upload_bytes (a JSON body: max_json_bytes)",
    415: "unsupported Content-Type",
    422: "invalid request or input (details name fields, or columns and rows); on submit "
    "also an Idempotency-Key already used with a different request "
    "(code idempotency_key_reused)",
    429: "the API key's request budget (BATCH_RATE_LIMIT) is spent; Retry-After says when "
    "the window resets",
    503: "job queue (Redis) unreachable, model not loaded, or the model registry cannot "
    "resolve the model to a version at submit: nothing accepted or changed",
}

KEYED = (401, 403, 422, 429, 503)  # what any route behind the API key can answer

error_responses = ErrorDocs(MEANINGS, always=KEYED)
