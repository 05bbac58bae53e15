"""API keys: clients send ``X-API-Key``; servers keep only SHA-256 digests of the keys.

Each presented key is hashed and compared with every configured digest in constant time
(``hmac.compare_digest``, no early exit), so timing tells nothing about the keys. Keys are
never logged; a short digest prefix identifies the client in logs and rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from fastapi import Request

from services.core.web.errors import Forbidden, Unauthorized

HEADER = "X-API-Key"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyAuth:
    """FastAPI dependency: returns the caller's key id (digest prefix), or ``anonymous``
    when no digests are configured (development only; production settings refuse it)."""

    def __init__(self, digests: Sequence[str]) -> None:
        # Settings refuse blank or malformed digests; refuse them here too, so a caller
        # that builds this by hand cannot turn "one blank digest" into "auth off".
        self.digests = [d.strip().lower() for d in digests]
        if any(len(d) != 64 for d in self.digests):
            raise ValueError("API key digests must be SHA-256 hex (64 characters)")

    def check(self, presented: str | None) -> str:
        if not self.digests:
            return "anonymous"
        if not presented:
            raise Unauthorized(f"missing {HEADER} header", headers={"WWW-Authenticate": "ApiKey"})
        digest = hash_key(presented)
        matched = False
        for known in self.digests:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise Forbidden("invalid API key")
        return digest[:12]

    async def __call__(self, request: Request) -> str:
        key_id = self.check(request.headers.get(HEADER))
        request.state.api_key_id = key_id
        return key_id
