"""A real local HTTP receiver for webhook and notification tests: records every POST and
answers with a scripted status per path (optionally after a delay)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.scripts: defaultdict[str, deque[int]] = defaultdict(deque)
        self.defaults: dict[str, int] = {}
        self.delays: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                item = Received(self.path, dict(self.headers.items()), body, time.monotonic())
                with receiver.lock:
                    receiver.received.append(item)
                    script = receiver.scripts[self.path]
                    code = script.popleft() if script else receiver.defaults.get(self.path, 200)
                    delay = receiver.delays.get(self.path, 0.0)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, *codes: int, default: int | None = None) -> None:
        """Answer ``codes`` in order on ``path``, then ``default`` (200 unless given)."""
        with self.lock:
            self.scripts[path].extend(codes)
            if default is not None:
                self.defaults[path] = default

    def delay(self, path: str, seconds: float) -> None:
        with self.lock:
            self.delays[path] = seconds

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
