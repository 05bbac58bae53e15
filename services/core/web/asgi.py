"""Raw ASGI helpers: answer with the JSON error body before any route runs; see the status
of the answer a middleware passes through."""

from __future__ import annotations

import json

from starlette.types import Message, Send

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


class StatusSend:
    """``send`` that remembers the response status: 500 until a response starts, so an
    exception that escapes the app counts as the 500 the server will answer."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send, self.status = send, 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)
