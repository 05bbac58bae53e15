"""A small HTTPS server standing in for the kube-apiserver in tests of ``ApiGate``, and a
stress run of the gate (``python -m tests.system.controller.tls_api SECONDS``).

The stress run is what once crashed CI: keep-alive clients sending PATCHes, watch streams
relayed chunk by chunk, and ``release()`` dropping every connection five times a second.
A relay that reads an OpenSSL connection in one thread while another writes or closes it
dies with SIGSEGV within seconds; the process exit code is the verdict.
"""

from __future__ import annotations

import http.client
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.controlplane import _PKI
from tests.system.controller.apigate import ApiGate


def serve_tls(
    handler: type[BaseHTTPRequestHandler], folder: Path
) -> tuple[ThreadingHTTPServer, bytes]:
    """Start ``handler`` over TLS on a free loopback port; returns (server, CA PEM)."""
    pki = _PKI(folder)
    cert, key, _, _ = pki.issue("server", "api", server=True, ips=["127.0.0.1"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, pki.ca_pem


class _Busy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the gate dropped the connection: expected here
            self.close_connection = True

    def do_GET(self) -> None:  # an endless watch stream
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for n in range(1_000_000):
            event = b'{"type":"MODIFIED","n":%d}\n' % n
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            time.sleep(0.001)

    def do_PATCH(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _client(address: str, watcher: bool, until: float, relayed: list[int]) -> None:
    while time.monotonic() < until:
        conn = http.client.HTTPConnection(address, timeout=5)
        try:
            if watcher:
                conn.request("GET", "/watch/pods")
                stream = conn.getresponse()
                for _ in range(200):
                    stream.readline()
            else:
                for _ in range(50):
                    conn.request("PATCH", "/apis/x", body=b"y" * 2000)
                    conn.getresponse().read()
                    relayed[0] += 1
        except (OSError, http.client.HTTPException):
            pass  # released mid-request
        finally:
            conn.close()


def stress(seconds: float, clients: int = 12) -> int:
    """Run the gate under load and releases for ``seconds``; PATCHes relayed."""
    with tempfile.TemporaryDirectory() as tmp:
        server, ca = serve_tls(_Busy, Path(tmp) / "pki")
        gate = ApiGate(f"https://127.0.0.1:{server.server_address[1]}", ca, "token").start()
        address, until, relayed = gate.url.removeprefix("http://"), time.monotonic() + seconds, [0]
        threads = [
            threading.Thread(
                target=_client, args=(address, i % 3 == 0, until, relayed), daemon=True
            )
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        while time.monotonic() < until:
            time.sleep(0.2)
            gate.release()
        for thread in threads:
            thread.join(10)
        gate.stop()
        server.shutdown()
        return relayed[0]


if __name__ == "__main__":
    print(stress(float(sys.argv[1])), flush=True)
