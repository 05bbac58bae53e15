"""Inference benchmark: the full service vs a bare FastAPI app serving the same booster.

Not a test. For each dataset (Default: 3 features; Lending Club: 22, 5 categorical) it
trains a model into a temporary MLflow store, starts both apps as real uvicorn processes
(1 worker each, pinned to core 0 with ``taskset``), and loads them with ``wrk`` pinned to
core 1: ``POST /api/v1/predict`` at each concurrency (rotating 256 synthetic applicants)
and ``POST /api/v1/predict/bulk`` with 1,000 rows. Each point is measured in interleaved
rounds (bare, full, full, bare, ...) so both apps see the same machine noise; req/s and
server CPU per request are totals over the rounds, p50/p99 the median of the rounds. The
figures that matter are the ratios, and the CPU-per-request ratio is the least noisy.

    python bench/inference/bench_inference.py            # ~6 min
    python bench/inference/bench_inference.py --seconds 3 --concurrency 8 --datasets default

Writes ``bench/results/inference.json`` and ``bench/results/inference.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]

from loadgen import Server, bodies, run_wrk  # noqa: E402
from report import write_report  # noqa: E402

from tests.support.models import tracking_uri_for, train_quick  # noqa: E402

APPS = ("bare", "full")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12, help="per app and point (s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--bulk-concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--datasets", nargs="+", default=["default", "lending_club"])
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--client-core", default="1")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    return parser.parse_args(argv)


def measure(
    server: Server, url: str, payloads: list[str], conc: int, seconds: float, core: str
) -> dict[str, Any]:
    """One wrk run plus the server's CPU time per request (user + system)."""
    cpu = server.cpu_seconds()
    stats = run_wrk(url, payloads, conc, seconds, core)
    stats["cpu_s"] = server.cpu_seconds() - cpu
    return stats


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one app at one point: totals for req/s and CPU, medians for latency."""
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["requests"] / r["rps"] for r in rounds if r["rps"])
    return {
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in rounds), 2),
        "requests": requests,
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "server_cpu_us_per_req": round(sum(r["cpu_s"] for r in rounds) / max(requests, 1) * 1e6, 1),
        "rounds": [{k: r[k] for k in ("rps", "p50_ms", "p99_ms")} for r in rounds],
    }


def bench_dataset(
    args: argparse.Namespace, dataset: str, tracking_uri: str
) -> list[dict[str, Any]]:
    model = train_quick(tracking_uri, dataset, nthread=1)
    singles, bulk = bodies(dataset, n_single=256, n_bulk=1000)
    env = {"BENCH_MODEL_URI": model.uri, "MLFLOW_TRACKING_URI": tracking_uri}
    rows: list[dict[str, Any]] = []
    servers = {app: Server(app, env, args.server_core) for app in APPS}
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():  # warm-up, once both are up
            run_wrk(server.url + "/api/v1/predict", singles, 8, 2, args.client_core)
        plan = [("predict", c, singles) for c in args.concurrency]
        plan += [("predict/bulk", c, [bulk]) for c in args.bulk_concurrency]
        per_round = max(1, round(args.seconds / args.rounds))  # wrk takes whole seconds
        for endpoint, conc, payloads in plan:
            runs: dict[str, list[dict[str, Any]]] = {app: [] for app in APPS}
            for i in range(args.rounds):  # interleaved, alternating order: shared noise
                for app in APPS if i % 2 == 0 else APPS[::-1]:
                    url = servers[app].url + "/api/v1/" + endpoint
                    runs[app].append(
                        measure(servers[app], url, payloads, conc, per_round, args.client_core)
                    )
            for app in APPS:
                rows.append(
                    {
                        "dataset": dataset,
                        "endpoint": endpoint,
                        "concurrency": conc,
                        "app": app,
                        **combine(runs[app]),
                    }
                )
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "rounds"}), flush=True)
    finally:
        for server in servers.values():
            server.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        tracking_uri = tracking_uri_for(Path(tmp) / "mlflow")
        rows = [r for d in args.datasets for r in bench_dataset(args, d, tracking_uri)]
    meta = {
        "seconds_per_point": args.seconds,
        "rounds": args.rounds,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "server_core": args.server_core,
        "client_core": args.client_core,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "wall_seconds": round(time.time() - started, 1),
        "load_generator": "wrk",
    }
    write_report(args.out, rows, meta)
    print(f"wrote {args.out / 'inference.json'} and {args.out / 'inference.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
