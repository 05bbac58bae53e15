"""A crash-point gate in front of the kube-apiserver, for the operator under test.

The operator gets a kubeconfig whose server is a plain-HTTP port on loopback; every
request it sends is parsed (request line, headers, body), logged, and relayed unchanged to
the real API server over TLS (its bearer token included). Responses are relayed back as
raw bytes, watch streams too.

``arm(match)`` sets one crash point. The first request ``match`` accepts is forwarded
(``forward=True``: "right after this write"; the trip fires once the API server has
answered it) or held (``forward=False``: "right before it"), and from then on every new
request is held: the operator is frozen at the API
boundary, so the test can SIGKILL it at exactly that point. ``release()`` (after the
kill) closes every connection of the killed process — nothing it sent is ever forwarded
late — and lets the next process through.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import yaml


@dataclass(frozen=True)
class Request:
    at: float  # time.time() when it was read
    method: str
    path: str  # without the query string
    query: str
    body: bytes

    def json(self) -> Any:
        """The body as JSON (``None`` when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Trip:
    """One armed crash point; ``fired`` is set once its request is held or answered."""

    match: Callable[[Request], bool]
    forward: bool
    fired: threading.Event = field(default_factory=threading.Event)
    request: Request | None = None

    def wait(self, timeout: float) -> Request:
        if not self.fired.wait(timeout) or self.request is None:
            raise TimeoutError(f"crash point not reached within {timeout:.0f}s")
        return self.request


def _read_head(reader: BinaryIO) -> bytes | None:
    """Request line + headers up to the blank line (``None`` at end of stream)."""
    lines: list[bytes] = []
    while True:
        line = reader.readline(65537)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if lines:
                return b"".join([*lines, line])
            continue  # stray CRLF between requests
        lines.append(line)


def _headers(head: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            found[name.strip().lower()] = value.strip()
    return found


def _read_body(reader: BinaryIO, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """(decoded body, raw bytes as sent): Content-Length or chunked."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raw, body = bytearray(), bytearray()
        while True:
            size_line = reader.readline(65537)
            raw += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, then the final CRLF
                    trailer = reader.readline(65537)
                    raw += trailer
                    if trailer in (b"\r\n", b"\n", b""):
                        return bytes(body), bytes(raw)
            chunk = reader.read(size)
            body += chunk
            raw += chunk + reader.read(2)
    data = reader.read(int(headers.get("content-length") or 0))
    return data, data


class _Connection:
    """One client connection and its upstream TLS connection."""

    def __init__(self, client: socket.socket, generation: int) -> None:
        self.client, self.generation = client, generation
        self.upstream: ssl.SSLSocket | None = None
        self.tripped: Trip | None = None  # forwarded trip request awaiting its response

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    gate: ApiGate


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.gate._serve(cast(socket.socket, self.request))


class ApiGate:
    def __init__(self, upstream: str, ca_pem: bytes, token: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.port_up = parts.hostname or "127.0.0.1", parts.port or 443
        self.token = token
        self.tls = ssl.create_default_context(cadata=ca_pem.decode())
        self.requests: list[Request] = []  # every request read, in order
        self.forwarded: list[Request] = []  # those relayed to the API server
        self._trip: Trip | None = None
        self._frozen = False
        self._generation = 0
        self._connections: list[_Connection] = []
        self._cond = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_kubeconfig(cls, kubeconfig: Path) -> ApiGate:
        """A gate in front of the server of a token kubeconfig, with its CA and token."""
        doc = yaml.safe_load(kubeconfig.read_text())
        cluster, user = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
        ca = base64.b64decode(cluster["certificate-authority-data"])
        return cls(cluster["server"], ca, user["token"])

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ApiGate:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.gate = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="apigate", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the gate first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for the operator: the gate as server, the same bearer token."""
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "gate", "cluster": {"server": self.url}}],
            "users": [{"name": "operator", "user": {"token": self.token}}],
            "contexts": [{"name": "gate", "context": {"cluster": "gate", "user": "operator"}}],
            "current-context": "gate",
        }
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
        return path

    # ------------------------------------------------------------------ crash points
    def arm(self, match: Callable[[Request], bool], *, forward: bool = True) -> Trip:
        """Freeze the client at the first request ``match`` accepts (see the module doc)."""
        trip = Trip(match, forward)
        with self._cond:
            self._trip = trip
        return trip

    def release(self) -> None:
        """Drop everything held and every connection opened so far (the killed process's),
        disarm, and let new connections through."""
        with self._cond:
            self._generation += 1
            self._frozen, self._trip = False, None
            old, self._connections = self._connections, []
            self._cond.notify_all()
        for conn in old:
            conn.close()

    @property
    def frozen(self) -> bool:
        with self._cond:
            return self._frozen

    def writes(self, predicate: Callable[[Request], bool] = lambda r: True) -> list[Request]:
        """Forwarded writes (POST/PUT/PATCH/DELETE) that ``predicate`` accepts."""
        with self._cond:
            return [r for r in self.forwarded if r.write and predicate(r)]

    # ------------------------------------------------------------------ relaying
    def _admit(self, conn: _Connection, request: Request) -> bool:
        """Whether to forward ``request``: trips, holds while frozen, drops stale ones."""
        with self._cond:
            self.requests.append(request)
            trip = self._trip
            if not self._frozen and trip is not None and trip.match(request):
                self._frozen, trip.request = True, request
                if trip.forward:  # fired once the API server has answered it (``_pump``)
                    conn.tripped = trip
                    self.forwarded.append(request)
                    return True
                trip.fired.set()
            while self._frozen and conn.generation == self._generation:
                self._cond.wait()
            if conn.generation != self._generation:
                return False  # sent by a process that has been killed since
            self.forwarded.append(request)
            return True

    def _serve(self, client: socket.socket) -> None:
        with self._cond:
            conn = _Connection(client, self._generation)
            self._connections.append(conn)
        reader = client.makefile("rb")
        try:
            while True:
                head = _read_head(reader)
                if head is None:
                    return
                body, raw = _read_body(reader, _headers(head))
                method, target = head.split(b" ", 2)[:2]
                path, _, query = target.decode("latin-1").partition("?")
                request = Request(time.time(), method.decode(), path, query, body)
                if not self._admit(conn, request):
                    return
                if conn.upstream is None:
                    conn.upstream = self._connect()
                    pump = threading.Thread(
                        target=self._pump, args=(conn,), name="apigate-pump", daemon=True
                    )
                    pump.start()
                conn.upstream.sendall(head + raw)
        except (OSError, ValueError):
            return
        finally:
            reader.close()
            conn.close()

    def _connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection((self.host, self.port_up), timeout=30)
        raw.settimeout(None)
        return self.tls.wrap_socket(raw, server_hostname=self.host)

    @staticmethod
    def _pump(conn: _Connection) -> None:
        """Upstream → client, raw bytes, until either side closes."""
        assert conn.upstream is not None
        try:
            while True:
                data = conn.upstream.recv(65536)
                if not data:
                    return
                if conn.tripped is not None:  # the API server has done the tripped write
                    conn.tripped.fired.set()
                    conn.tripped = None
                conn.client.sendall(data)
        except OSError:
            return
        finally:
            conn.close()
