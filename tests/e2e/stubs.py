"""A tiny real HTTP server for the harness's own tests: answers every POST with a fixed
status and serves a counter of them at ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int = 200, track: str = "stable") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.track, self.posts = status, track, 0
        self.lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StubServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with self.server.lock:
            self.server.posts += 1
        self._reply(self.server.status, b"{}", "application/json")

    def do_GET(self) -> None:
        text = (
            "# TYPE stub_posts_total counter\n"
            f'stub_posts_total{{track="{self.server.track}"}} {self.server.posts}\n'
        )
        self._reply(200, text.encode(), "text/plain; version=0.0.4")

    def _reply(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def stub_server(status: int = 200, track: str = "stable") -> Iterator[StubServer]:
    server = StubServer(status, track)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
