"""Container HEALTHCHECK probe shared by every image (stdlib only, no shell needed).

usage:
  python /opt/healthcheck.py http://127.0.0.1:8080/healthz   # HTTP 2xx within the timeout
  python /opt/healthcheck.py --redis                          # PING $REDIS_URL (rq worker)
  python /opt/healthcheck.py --auto URL                       # --redis when PID 1 is a worker

Exit 0 when healthy, 1 otherwise (Docker's contract). Kubernetes ignores HEALTHCHECK; the
Helm chart declares its own probes against the same endpoints.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 3.0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def redis_ok(url: str) -> bool:
    """A raw RESP PING (no client library needed); AUTH when the URL has a password."""
    parts = urllib.parse.urlsplit(url or "redis://127.0.0.1:6379/0")
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=TIMEOUT_SECONDS
        ) as conn:
            if parts.password:
                user = urllib.parse.unquote(parts.username or "default")
                secret = urllib.parse.unquote(parts.password)
                conn.sendall(_command("AUTH", user, secret))
                if not conn.recv(64).startswith(b"+OK"):
                    return False
            conn.sendall(_command("PING"))
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _command(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def pid1_is_worker() -> bool:
    try:
        with open("/proc/1/cmdline", "rb") as fh:
            return b"worker" in fh.read().split(b"\0")
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 1
    mode, *rest = argv
    if mode == "--redis" or (mode == "--auto" and pid1_is_worker()):
        return 0 if redis_ok(os.environ.get("REDIS_URL", "")) else 1
    url = rest[0] if mode == "--auto" and rest else mode
    return 0 if http_ok(url) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
