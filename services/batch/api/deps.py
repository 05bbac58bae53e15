"""FastAPI dependencies: the service object and the API-key check (shared core auth),
followed by the caller's rate limit (shared core limiter)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from services.batch.domain import JOB_ID
from services.batch.service.batch_service import BatchService
from services.core.web.ratelimit import Limiter


def get_service(request: Request) -> BatchService:
    service: BatchService = request.app.state.service
    return service


async def require_key(request: Request) -> str:
    """The caller's key id (a digest prefix); 401/403 without a valid ``X-API-Key``, then
    429 once the key's budget (``BATCH_RATE_LIMIT``) is spent: unauthenticated requests
    neither spend nor reveal a budget."""
    key_id: str = await request.app.state.auth(request)
    limiter: Limiter = request.app.state.limiter
    limiter.check(request)
    return key_id


ServiceDep = Annotated[BatchService, Depends(get_service)]
Caller = Annotated[str, Depends(require_key)]
JobId = Annotated[str, Path(pattern=JOB_ID.pattern, description="job id (32 hex digits)")]
