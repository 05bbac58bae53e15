"""The crash-point gate itself, against a small local TLS server: many keep-alive
requests relayed on one connection, a chunked stream relayed chunk by chunk as it is
written, trips, ``release()`` ending a stream held open by a "killed" client, and a
stress run that crashed the old relay (a TLS connection read by one thread while another
wrote or closed it) with SIGSEGV within seconds."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.system.controller.apigate import ApiGate
from tests.system.controller.tls_api import serve_tls

pytestmark = pytest.mark.integration

TOKEN = "gate-test-token"


class _Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are written separately
    stream_go: threading.Event  # set by the test to let the stream's second chunk out

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, b"no token")
        elif self.path.startswith("/watch"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in (b'{"type":"ADDED"}\n', b'{"type":"MODIFIED"}\n'):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                type(self).stream_go.wait(30)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._reply(200, self.path.encode())

    def do_PATCH(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(200, b"patched " + body)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[ApiGate]:
    _Api.stream_go = threading.Event()
    server, ca = serve_tls(_Api, tmp_path / "pki")
    found = ApiGate(f"https://127.0.0.1:{server.server_address[1]}", ca, TOKEN)
    found.start()
    yield found
    _Api.stream_go.set()
    found.stop()
    server.shutdown()
    server.server_close()


def _client(gate: ApiGate) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(gate.url.removeprefix("http://"), timeout=30)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_relays_many_keepalive_requests_on_one_connection(gate: ApiGate) -> None:
    conn = _client(gate)
    for i in range(200):
        conn.request("PATCH", f"/apis/x/{i}?dryRun=All", body=b'{"n":%d}' % i, headers=AUTH)
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'patched {"n":%d}' % i)
    conn.close()
    writes = gate.writes()
    assert [w.path for w in writes] == [f"/apis/x/{i}" for i in range(200)]
    assert writes[7].query == "dryRun=All"
    assert writes[7].json() == {"n": 7}


def test_streams_chunks_as_they_are_written_then_reuses_the_connection(gate: ApiGate) -> None:
    conn = _client(gate)
    conn.request("GET", "/watch/pods", headers=AUTH)
    response = conn.getresponse()
    assert response.status == 200
    # the first event arrives while the server still holds the second back
    assert response.readline() == b'{"type":"ADDED"}\n'
    _Api.stream_go.set()
    assert response.read() == b'{"type":"MODIFIED"}\n'
    conn.request("GET", "/api/v1/namespaces", headers=AUTH)
    assert conn.getresponse().read() == b"/api/v1/namespaces"
    conn.close()


def test_trip_holds_the_client_until_release_ends_its_connections(gate: ApiGate) -> None:
    watcher = _client(gate)
    watcher.request("GET", "/watch/rollouts", headers=AUTH)
    stream = watcher.getresponse()
    assert stream.readline() == b'{"type":"ADDED"}\n'

    trip = gate.arm(lambda r: r.method == "PATCH", forward=True)
    writer = _client(gate)
    writer.request("PATCH", "/apis/rollout", body=b"{}", headers=AUTH)
    assert writer.getresponse().read() == b"patched {}"
    assert trip.wait(10).path == "/apis/rollout"
    assert gate.frozen

    held = _client(gate)  # every later request is held, never forwarded
    held.request("PATCH", "/apis/late", body=b"{}", headers=AUTH)
    time.sleep(0.5)  # not a wait: time for the held PATCH to be (wrongly) forwarded
    assert [w.path for w in gate.writes()] == ["/apis/rollout"]

    gate.release()  # the "killed" process's connections end, the stream included
    with pytest.raises((http.client.HTTPException, OSError)):
        held.getresponse()
    with pytest.raises((http.client.HTTPException, OSError)):
        stream.read()
    assert [w.path for w in gate.writes()] == ["/apis/rollout"]

    fresh = _client(gate)  # a new process gets through
    fresh.request("GET", "/api", headers=AUTH)
    assert fresh.getresponse().read() == b"/api"
    for conn in (watcher, writer, held, fresh):
        conn.close()


def test_no_connection_is_left_open_after_stop(gate: ApiGate) -> None:
    conn = _client(gate)
    conn.request("GET", "/api", headers=AUTH)
    conn.getresponse().read()
    port = int(gate.url.rsplit(":", 1)[1])
    gate.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).recv(1)
    conn.close()


def test_survives_load_and_releases_without_crashing() -> None:
    """In a child process, so a crash fails this test instead of killing the run."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.system.controller.tls_api", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert int(proc.stdout.split()[-1]) > 1_000  # PATCHes relayed between the releases
