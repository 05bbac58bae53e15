"""Answer with the JSON error body from a raw ASGI middleware (before any route runs)."""

from __future__ import annotations

import json

from starlette.types import Send

from services.core.web.errors import error_body


async def send_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """Send a complete ``status`` response with ``error_body(code, message)`` (and the
    request id) — for middlewares that answer early: 413 body limit, injected faults."""
    body = json.dumps(error_body(code, message)).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
