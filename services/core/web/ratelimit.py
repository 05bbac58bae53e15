"""Per-key rate limits of the HTTP services (inference, the batch API): the one entry point.

``install_limiter`` returns what a service's key dependency calls after authentication:
``NoLimit`` when no rate is set, so slowapi and limits (0.1-0.4 s of start-up) are never
imported, else the slowapi-based ``RequestLimiter`` (``services.core.web.limiter``), with
its 429 handler (shared JSON error body, ``Retry-After``) added to the app.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI, Request


class Limiter(Protocol):
    """What a key dependency needs of a rate limiter (``limiter.RequestLimiter``)."""

    def check(self, request: Request) -> None: ...


class NoLimit:
    """Rate limiting off (the service's ``*_RATE_LIMIT`` empty): every request passes."""

    def check(self, request: Request) -> None:
        return None


def install_limiter(app: FastAPI, rate: str, storage_uri: str, prefix: str) -> Limiter:
    """The limiter for ``rate`` (limits syntax; empty = off), counting in ``storage_uri``
    (``redis://…``; empty = process memory) under ``prefix``; registers the 429 handler."""
    if not rate:
        return NoLimit()
    from slowapi.errors import RateLimitExceeded

    from services.core.web.limiter import RequestLimiter, rate_limited

    app.add_exception_handler(RateLimitExceeded, rate_limited)
    return RequestLimiter(rate, storage_uri, prefix)
