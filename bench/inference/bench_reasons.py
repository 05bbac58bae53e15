"""Reason codes benchmark (online): single-row ``/predict`` at concurrency 64 with reason
codes on every answer (``?explain=true``) vs reason codes off, side by side in one run.

Not a test. For each dataset it trains a model, starts the real service twice (uvicorn,
1 worker, pinned to the server core): ``off`` with ``INFERENCE_REASONS_TOP_K=0`` (no
TreeSHAP ever) and ``on`` with the default k = 4. Three variants are loaded with ``wrk``
(pinned to the client core) in interleaved rounds, one server loaded at a time:

- ``off``: reasons off;
- ``declined``: reasons on, no query parameter: only declined applicants get reasons
  (what a lender calling it plainly pays);
- ``explain``: reasons on, ``?explain=true``: every answer computes TreeSHAP.

The target is ``explain`` ≥ 70 % of ``off`` req/s.

    python bench/inference/bench_reasons.py                # ~2 min
    python bench/inference/bench_reasons.py --seconds 6 --datasets default

Writes ``bench/results/reasons_inference.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]

from bench_inference import combine, measure  # noqa: E402
from loadgen import Server, bodies, run_wrk  # noqa: E402

from bench.common import write_results  # noqa: E402
from tests.support.models import tracking_uri_for, train_quick  # noqa: E402

TARGET = 0.70
VARIANTS = {  # name -> (server, query)
    "off": ("off", ""),
    "declined": ("on", ""),
    "explain": ("on", "?explain=true"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12, help="per variant and dataset (s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--datasets", nargs="+", default=["default", "lending_club"])
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--client-core", default="1")
    return parser.parse_args(argv)


def bench_dataset(args: argparse.Namespace, dataset: str, tracking_uri: str) -> dict[str, Any]:
    model = train_quick(tracking_uri, dataset, nthread=1)
    singles, _ = bodies(dataset, n_single=256, n_bulk=1)
    env = {"BENCH_MODEL_URI": model.uri, "MLFLOW_TRACKING_URI": tracking_uri}
    servers = {
        "off": Server("full", {**env, "BENCH_SETTINGS": '{"reasons_top_k": 0}'}, args.server_core),
        "on": Server("full", env, args.server_core),
    }
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    try:
        for server in servers.values():
            server.start()
        urls = {v: servers[s].url + "/api/v1/predict" + q for v, (s, q) in VARIANTS.items()}
        for url in urls.values():  # warm-up
            run_wrk(url, singles, 8, 2, args.client_core)
        per_round = max(1, round(args.seconds / args.rounds))
        order = list(VARIANTS)
        for i in range(args.rounds):  # interleaved, alternating order: shared noise
            for variant in order if i % 2 == 0 else order[::-1]:
                server = servers[VARIANTS[variant][0]]
                stats = measure(
                    server, urls[variant], singles, args.concurrency, per_round, args.client_core
                )
                runs[variant].append(stats)
    finally:
        for server in servers.values():
            server.stop()
    out = {v: combine(r) for v, r in runs.items()}
    off = out["off"]["rps"] or 1.0
    row: dict[str, Any] = {"dataset": dataset, "concurrency": args.concurrency}
    for variant, stats in out.items():
        row[f"{variant}_rps"] = stats["rps"]
        row[f"{variant}_p99_ms"] = stats["p99_ms"]
        row[f"{variant}_cpu_us_per_req"] = stats["server_cpu_us_per_req"]
        row[f"{variant}_non_2xx"] = stats["non_2xx"]
    row["explain_vs_off"] = round(out["explain"]["rps"] / off, 3)
    row["declined_vs_off"] = round(out["declined"]["rps"] / off, 3)
    row["target"] = f">= {TARGET}"
    row["rounds"] = {v: s["rounds"] for v, s in out.items()}
    print(json.dumps({k: v for k, v in row.items() if k != "rounds"}), flush=True)
    return row


NOTES = """Single-row `POST /api/v1/predict`, concurrency {conc}, the real service (1 uvicorn
worker pinned to one core, wrk on the other), {rounds} interleaved rounds of
{per} s per variant. `off`: INFERENCE_REASONS_TOP_K=0; `declined`: reasons on, no
query (reasons only for declined applicants); `explain`: `?explain=true` (TreeSHAP on
every request). Target: explain ≥ {target:.0%} of off req/s. CPU per request is the
server's user+system time divided by requests (the least noisy figure). Load average
after the run: {load}."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-reasons-") as tmp:
        tracking_uri = tracking_uri_for(Path(tmp) / "mlflow")
        rows = [bench_dataset(args, d, tracking_uri) for d in args.datasets]
    columns = [
        "dataset",
        "off_rps",
        "declined_rps",
        "explain_rps",
        "explain_vs_off",
        "declined_vs_off",
        "target",
        "off_p99_ms",
        "explain_p99_ms",
        "off_cpu_us_per_req",
        "explain_cpu_us_per_req",
    ]
    notes = NOTES.format(
        conc=args.concurrency,
        rounds=args.rounds,
        per=max(1, round(args.seconds / args.rounds)),
        target=TARGET,
        load=", ".join(f"{x:.2f}" for x in os.getloadavg()),
    )
    notes += f"\n\nWall time {time.time() - started:.0f} s."
    path = write_results("reasons_inference", rows, columns, notes)
    print(f"wrote {path} and its JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
