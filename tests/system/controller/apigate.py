"""A crash-point gate in front of the kube-apiserver, for the operator under test.

The operator gets a kubeconfig whose server is a plain-HTTP port on loopback; every
request it sends is parsed (request line, headers, body), logged, and relayed unchanged to
the real API server over TLS (its bearer token included). Responses are relayed back
byte for byte as they arrive, watch streams chunk by chunk.

One thread owns each connection pair and alternates: relay a request, then relay its
response. An OpenSSL connection must never be read and written from two threads at once
(a reader thread blocked in ``SSL_read`` while another thread writes the next request
crashed the test process with a segfault), and other threads only ever ``shutdown(2)``
a socket, never touch its TLS state.

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


def _status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def _relay_response(method: str, reader: BinaryIO, client: socket.socket) -> bool:
    """Relay one response (and any 1xx before it) as it arrives: a watch stream chunk by
    chunk. Whether the connection may carry another request afterwards."""
    while True:
        head = _read_head(reader)
        if head is None:
            raise ConnectionError("the API server closed the connection")
        client.sendall(head)
        status = _status(head)
        if status >= 200:
            break
    headers = _headers(head)
    if method == "HEAD" or status in (204, 304):
        return True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = reader.readline(65537)
            if not size_line:
                raise ConnectionError("the API server closed a chunked response")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                tail = bytearray(size_line)
                while True:  # trailers, then the final CRLF
                    trailer = reader.readline(65537)
                    tail += trailer
                    if trailer in (b"\r\n", b"\n", b""):
                        client.sendall(bytes(tail))
                        return "close" not in headers.get("connection", "").lower()
            client.sendall(size_line + reader.read(size) + reader.read(2))
    if "content-length" in headers:
        left = int(headers["content-length"])
        while left > 0:
            data = reader.read1(min(left, 65536))  # type: ignore[attr-defined]
            if not data:
                raise ConnectionError("the API server closed mid-body")
            client.sendall(data)
            left -= len(data)
        return "close" not in headers.get("connection", "").lower()
    while data := reader.read1(65536):  # type: ignore[attr-defined]
        client.sendall(data)  # delimited by the end of the connection
    return False


class _Connection:
    """One client connection and its upstream TLS connection."""

    def __init__(self, client: socket.socket, generation: int) -> None:
        self.client, self.generation = client, generation
        self.upstream: ssl.SSLSocket | None = None

    def interrupt(self) -> None:
        """From any thread: end both sockets at the OS level (``shutdown(2)``), so the
        owning thread's blocked read returns; its TLS state is left to that thread."""
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        """Only from the thread serving this connection."""
        self.interrupt()
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError, ValueError):
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
            conn.interrupt()

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
                if trip.forward:  # fired once the API server has answered it (``_serve``)
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
        # a response goes out as head, then body: without this, Nagle's algorithm meets
        # the client's delayed ACK and every call waits ~40 ms
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = client.makefile("rb")
        upstream_reader: BinaryIO | None = None
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
                if conn.upstream is None or upstream_reader is None:
                    conn.upstream = self._connect()
                    upstream_reader = conn.upstream.makefile("rb")
                conn.upstream.sendall(head + raw)
                with self._cond:
                    trip = self._trip
                tripped = trip is not None and trip.forward and trip.request is request
                # a tripped write is done once the API server starts answering it
                if trip is not None and tripped and _peek_answer(upstream_reader):
                    trip.fired.set()
                if not _relay_response(request.method, upstream_reader, client):
                    return
        except (OSError, ValueError):
            return
        finally:
            reader.close()
            if upstream_reader is not None:
                with contextlib.suppress(OSError, ValueError):
                    upstream_reader.close()
            conn.close()

    def _connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection((self.host, self.port_up), timeout=30)
        raw.settimeout(None)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.tls.wrap_socket(raw, server_hostname=self.host)


def _peek_answer(reader: BinaryIO) -> bool:
    """Block until the first bytes of the answer have arrived (without consuming them)."""
    return bool(reader.peek(1))  # type: ignore[attr-defined]
