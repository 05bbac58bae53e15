"""A mirror target that costs next to nothing: answers every request ``200 {}`` at once.

With it as the canary, ``bench_mirror`` isolates what the *proxy* spends on mirroring
(copying the request, a second upstream connection, discarding the answer) from the
canary's own scoring, which in a cluster runs on other nodes. It counts the requests it
got and serves the count as ``http_requests_total{route="/api/v1/predict"}`` on
``GET /metrics``, the series ``bench_mirror.received`` reads from an inference pod.

    python bench/gateway/sink.py PORT
"""

from __future__ import annotations

import asyncio
import sys

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def content_length(head: bytes) -> int:
    """The ``Content-Length`` of a request head (0 when absent)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def exposition(count: int) -> bytes:
    text = "# TYPE http_requests_total counter\n"
    text += f'http_requests_total{{route="/api/v1/predict"}} {count}\n'
    body = text.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(content_length(head))
                if head.startswith(b"GET /metrics"):
                    writer.write(exposition(self.count))
                else:
                    self.count += 1
                    writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(Sink().serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
