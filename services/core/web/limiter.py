"""Rate limiting with slowapi: one shared budget per API key (else per client address).

Used by inference and the batch API (through ``services.core.web.ratelimit``, which
imports this module only when a limit is set). slowapi's ``Limiter`` holds the storage and
the strategy: Redis when a storage URI is given, so every replica (stable and canary)
draws from the same budget, else in-process memory (``limit_storage``); fixed window,
O(1) per hit. Each service counts under its own key prefix, so one Redis database can hold
both. The budget is checked by each service's key dependency, right after authentication
(so unauthenticated requests neither spend nor reveal a budget), through the limiter's
backend: slowapi's per-route decorator re-derives the route's limits and inspects the key
function on every request, which cost 7 % of the request's CPU in the benchmark. Exceeding
raises slowapi's ``RateLimitExceeded``, answered with 429, the JSON error body and
``Retry-After``.

If the storage fails (Redis down), counting continues in process memory for
``FALLBACK_SECONDS`` before Redis is tried again: requests are never failed for it.
"""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from limits.strategies import FixedWindowRateLimiter, RateLimiter
from loguru import logger
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from slowapi.wrappers import Limit, LimitGroup

from services.core.web.errors import error_body
from services.core.web.limit_storage import LocalStorage

SCOPE = "api"  # every limited route of a service shares one budget
FALLBACK_SECONDS = 30.0


def client_key(request: Request) -> str:
    """The budget a request draws from: the caller's key id, else its address."""
    key_id = getattr(request.state, "api_key_id", None)
    if key_id and key_id != "anonymous":
        return f"key:{key_id}"
    return f"addr:{get_remote_address(request)}"


class RequestLimiter:
    """``rate`` in limits syntax (``"10/second;300/minute"``, every limit applies; empty =
    off); ``storage_uri`` a ``redis://`` URL or empty (this process only); ``prefix`` the
    service's namespace in the storage (``inference``, ``batch``)."""

    def __init__(self, rate: str, storage_uri: str = "", prefix: str = "api") -> None:
        self.enabled = bool(rate)
        self.prefix = prefix
        self.slowapi = Limiter(
            key_func=client_key,
            storage_uri=storage_uri or f"{LocalStorage.STORAGE_SCHEME[0]}://",
            strategy="fixed-window",
            key_prefix=prefix,
            enabled=self.enabled,
        )
        group = LimitGroup(rate, client_key, SCOPE, False, None, None, None, 1, False)
        self.limits: list[Limit] = list(group) if self.enabled else []
        self.fallback = FixedWindowRateLimiter(LocalStorage())
        self._fallback_until = 0.0

    def check(self, request: Request) -> None:
        """Spend one unit of the caller's budget or raise ``RateLimitExceeded``."""
        if not self.limits:
            return
        keys = (self.prefix, client_key(request), SCOPE)
        for limit in self.limits:
            backend = self._hit(limit, keys)
            if backend is not None:
                request.state.rate_limited = (backend, limit.limit, keys)
                raise RateLimitExceeded(limit)

    def _hit(self, limit: Limit, keys: tuple[str, ...]) -> RateLimiter | None:
        """The backend that refused the hit, or None when it was allowed."""
        if time.monotonic() >= self._fallback_until:
            backend: RateLimiter = self.slowapi.limiter
            try:
                return None if backend.hit(limit.limit, *keys) else backend
            except Exception as exc:  # storage down: count locally for a while
                logger.warning("rate-limit storage failed ({}); counting in memory", exc)
                self._fallback_until = time.monotonic() + FALLBACK_SECONDS
        return None if self.fallback.hit(limit.limit, *keys) else self.fallback


def retry_after(request: Request) -> int:
    """Seconds until the exhausted window resets (at least 1)."""
    refused: tuple[Any, ...] | None = getattr(request.state, "rate_limited", None)
    if refused is None:
        return 1
    backend, item, keys = refused
    try:
        reset_at = backend.get_window_stats(item, *keys).reset_time
    except Exception as exc:  # storage trouble: a conservative hint beats a 500
        logger.warning("rate limit window unknown: {}", exc)
        return 1
    return max(1, math.ceil(reset_at - time.time()))


async def rate_limited(request: Request, exc: Exception) -> JSONResponse:
    detail = exc.detail if isinstance(exc, RateLimitExceeded) else str(exc)
    seconds = retry_after(request)
    body = error_body("rate_limited", f"rate limit exceeded ({detail}); retry in {seconds} s")
    return JSONResponse(body, 429, headers={"Retry-After": str(seconds)})
