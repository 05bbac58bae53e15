"""Accept or generate ``X-Request-ID``, bind it to the log context, echo it back."""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.logs import request_id_var

HEADER = b"x-request-id"
VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # anything else is replaced, never logged


def new_request_id() -> str:
    """A random UUID (version 4) as 32 hex digits: ``uuid.uuid4().hex`` without building
    a ``UUID`` object (a few µs on every request without an id)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


def given_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` (the last one if repeated), or ``""``."""
    found = b""
    for name, value in headers:
        if name == HEADER:
            found = value
    return found.decode("latin-1")


class RequestIdMiddleware:
    """Pure ASGI middleware (no per-request task or body copy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = given_id(scope["headers"])
        request_id = given if VALID.match(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message["headers"] = [*headers, (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
