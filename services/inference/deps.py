"""``Annotated`` dependency aliases for the routes.

Every dependency is ``async`` so FastAPI runs it on the event loop (a sync dependency
would cost a thread-pool hop per request). The gate of the API-key routes is one function,
``authorize`` (API key, then rate limit, then the served snapshot), with no
sub-dependency; ``ScoringDep`` wraps it for ordinary routes, and the two scoring routes
call it directly as their first statement, because resolving a dependency costs the hot
path about 10 µs (2 % of a request) in the benchmark. Their security requirement is
therefore declared in ``openapi_extra`` (``API_KEY_SECURITY``) rather than by an
``APIKeyHeader`` dependency. The admin key, off the hot path, uses ``APIKeyHeader``.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from services.core.web.auth import HEADER, ApiKeyAuth, hash_key
from services.core.web.errors import Forbidden, Unauthorized, Unavailable
from services.core.web.ratelimit import Limiter
from services.inference.metrics import InferenceMetrics
from services.inference.runtime import ModelRuntime, Served

ADMIN_HEADER = "X-Admin-Key"
API_KEY_SCHEME: dict[str, Any] = {
    "type": "apiKey",
    "in": "header",
    "name": HEADER,
    "description": "client API key (the service keeps only its SHA-256)",
}
API_KEY_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}
admin_key_scheme = APIKeyHeader(
    name=ADMIN_HEADER,
    auto_error=False,
    scheme_name="AdminKey",
    description="admin key for /api/v1/admin/*",
)


async def get_runtime(request: Request) -> ModelRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def get_metrics(request: Request) -> InferenceMetrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def authorize(request: Request) -> Served:
    """401/403 unless the key is valid, 429 once its budget is spent, 503 unless a model
    serves; else the snapshot the request uses to the end (a reload does not affect it)."""
    auth: ApiKeyAuth = request.app.state.auth
    request.state.api_key_id = auth.check(request.headers.get(HEADER))
    limiter: Limiter = request.app.state.limiter
    limiter.check(request)
    served: Served | None = request.app.state.runtime.current
    if served is None:
        raise Unavailable("no model loaded yet", headers={"Retry-After": "5"})
    return served


async def authorized_model(request: Request) -> Served:
    return authorize(request)


async def require_admin_key(
    request: Request, key: Annotated[str | None, Security(admin_key_scheme)]
) -> None:
    digest: str = request.app.state.settings.admin_key_hash
    if not digest:
        raise Forbidden("admin API disabled (set INFERENCE_ADMIN_KEY_HASH)")
    if not key:
        raise Unauthorized(f"missing {ADMIN_HEADER} header", headers={"WWW-Authenticate": "ApiKey"})
    if not hmac.compare_digest(hash_key(key), digest):
        raise Forbidden("invalid admin key")


RuntimeDep = Annotated[ModelRuntime, Depends(get_runtime)]
MetricsDep = Annotated[InferenceMetrics, Depends(get_metrics)]
ScoringDep = Annotated[Served, Depends(authorized_model)]
AdminKeyDep = Annotated[None, Depends(require_admin_key)]
