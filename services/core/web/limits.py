"""Reject oversized bodies with 413 before they are read into memory (pure ASGI).

Before the 413 is sent, the rest of the body is read and thrown away, up to
``drain_bytes``: a client that writes its whole body before it reads (Python's urllib, many
SDKs) would otherwise see the server close a socket with unread data, i.e. a connection
reset instead of the 413. (Before, not after: once a response is complete the server hands
the app no more body.) Past ``drain_bytes`` the connection is closed: the server never
reads an attacker's gigabytes just to be polite. A client that sent ``Expect:
100-continue`` is answered at once, its body never requested.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.web.asgi import send_error

DRAIN_BYTES = 32 * 1024 * 1024  # most a 413 reads and discards so the client sees it


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, drain_bytes: int = DRAIN_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            waits = headers.get(b"expect", b"").lower() == b"100-continue"
            await self._reject(send, receive, more=not waits)
            return
        seen = 0
        more = True

        async def limited_receive() -> Message:
            nonlocal seen, more
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                more = bool(message.get("more_body", False))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._reject(send, receive, more)

    async def _reject(self, send: Send, receive: Receive, more: bool) -> None:
        if more and self.drain_bytes > 0:
            await _discard(receive, self.drain_bytes)
        await send_error(
            send,
            413,
            "payload_too_large",
            f"body exceeds {self.max_bytes} bytes",
            {"connection": "close"},
        )


async def _discard(receive: Receive, limit: int) -> None:
    read = 0
    while read <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyTooLarge(Exception):
    pass
