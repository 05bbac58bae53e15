"""The scale benchmark's metrics exporter: one process serving ``/metrics/<shard>`` for
every shard of rollouts (``exposition.Page``), so Prometheus scrapes a few dozen targets
instead of thousands of pods.

Run: python -m bench.controller.exporter --plan plan.json --port 9100
(``plan.json``: {"rollouts": [{"app": ..., "failing": ...}], "perShard": 25}).
"""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.controller.exposition import Page, Rates, Rollout, shards

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def pages(plan: dict[str, Any]) -> list[Page]:
    rollouts = [
        Rollout(r["app"], bool(r["failing"]), r.get("canary_version")) for r in plan["rollouts"]
    ]
    rates = Rates(**plan.get("rates", {}))
    return [Page.build(shard, rates) for shard in shards(rollouts, int(plan["perShard"]))]


def serve(built: list[Page], port: int) -> None:
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            head, _, index = self.path.rpartition("/")
            if head != "/metrics" or not index.isdigit() or int(index) >= len(built):
                self.send_error(404)
                return
            body = built[int(index)].render(time.monotonic() - started + 60.0).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(pages(json.loads(args.plan.read_text())), args.port)


if __name__ == "__main__":
    main()
