"""Paired scoring benchmark: the served model's ``/predict`` (and bulk) throughput and
per-request CPU with a baseline model configured (every applicant scored twice, paired
metrics) vs without, side by side in one run.

Not a test. It trains two versions of one model (the served v2 and the baseline v1,
different seeds), starts the real service twice (uvicorn, 1 worker, pinned to the server
core): ``plain`` (no baseline) and ``paired`` (``baseline_model_uri`` = v1). ``wrk``
(pinned to the client core) loads one server at a time in interleaved rounds, single-row
``/predict`` at concurrency 64 and 1,000-row bulk requests at concurrency 4. Afterwards
it checks from ``/metrics`` that the paired server paired every applicant it answered.

The issue's bar for an in-process shadow is ≥ 70 % of the plain req/s; the paired pod is
the canary (mirrored copies), so this is the canary's cost, not the stable path's.

    python bench/inference/bench_paired.py                 # ~2 min
    python bench/inference/bench_paired.py --seconds 6

Writes ``bench/results/paired.json`` and ``.md``.
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

import httpx
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]

from bench_inference import combine, measure  # noqa: E402
from loadgen import Server, bodies, run_wrk  # noqa: E402

from bench.common import write_results  # noqa: E402
from services.core import telemetry as t  # noqa: E402
from tests.support.models import tracking_uri_for, train_quick  # noqa: E402

TARGET = 0.70
NAME = "paired-bench"
ENDPOINTS = {  # name -> (path, concurrency option, rows per request)
    "predict": ("/api/v1/predict", "concurrency", 1),
    "bulk": ("/api/v1/predict/bulk", "bulk_concurrency", 1000),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12, help="per server and endpoint (s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--concurrency", type=int, default=64, help="single-row /predict")
    parser.add_argument("--bulk-concurrency", type=int, default=4, help="1,000-row bulk")
    parser.add_argument("--dataset", default="default")
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--client-core", default="1")
    return parser.parse_args(argv)


def scored(server: Server) -> tuple[float, float]:
    """(applicants scored, applicants paired) from the server's ``/metrics``."""
    text = httpx.get(server.url + t.METRICS, timeout=30).text
    totals = {t.total(t.PREDICTIONS): 0.0, t.total(t.PAIRED_DECISIONS): 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return totals[t.total(t.PREDICTIONS)], totals[t.total(t.PAIRED_DECISIONS)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-paired-") as tmp:
        tracking_uri = tracking_uri_for(Path(tmp) / "mlflow")
        baseline = train_quick(tracking_uri, args.dataset, model_name=NAME, seed=1, nthread=1)
        served = train_quick(tracking_uri, args.dataset, model_name=NAME, seed=2, nthread=1)
        singles, bulk = bodies(args.dataset, n_single=256, n_bulk=1000)
        env = {"BENCH_MODEL_URI": served.uri, "MLFLOW_TRACKING_URI": tracking_uri}
        paired_settings = json.dumps({"baseline_model_uri": baseline.uri})
        servers = {
            "plain": Server("full", env, args.server_core),
            "paired": Server("full", {**env, "BENCH_SETTINGS": paired_settings}, args.server_core),
        }
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        try:
            for server in servers.values():
                server.start()
            per_round = max(1, round(args.seconds / args.rounds))
            for endpoint, (route, option, _) in ENDPOINTS.items():
                payloads = singles if endpoint == "predict" else [bulk]
                conc = getattr(args, option)
                for server in servers.values():  # warm-up
                    run_wrk(server.url + route, payloads, min(conc, 8), 2, args.client_core)
                order = list(servers)
                for i in range(args.rounds):  # interleaved, alternating order: shared noise
                    for name in order if i % 2 == 0 else order[::-1]:
                        server = servers[name]
                        stats = measure(
                            server, server.url + route, payloads, conc, per_round, args.client_core
                        )
                        runs.setdefault((endpoint, name), []).append(stats)
            pairing = {name: scored(server) for name, server in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
    rows = []
    for endpoint, (_, option, per_request) in ENDPOINTS.items():
        plain, paired = combine(runs[(endpoint, "plain")]), combine(runs[(endpoint, "paired")])
        row: dict[str, Any] = {
            "dataset": args.dataset,
            "endpoint": endpoint,
            "rows_per_request": per_request,
            "concurrency": getattr(args, option),
        }
        for name, stats in (("plain", plain), ("paired", paired)):
            row[f"{name}_rps"] = stats["rps"]
            row[f"{name}_p99_ms"] = stats["p99_ms"]
            row[f"{name}_cpu_us_per_req"] = stats["server_cpu_us_per_req"]
            row[f"{name}_errors"] = stats["non_2xx"] + stats["socket_errors"]
        row["paired_vs_plain"] = round(paired["rps"] / (plain["rps"] or 1.0), 3)
        row["extra_cpu_us_per_req"] = round(
            paired["server_cpu_us_per_req"] - plain["server_cpu_us_per_req"], 1
        )
        row["target"] = f">= {TARGET}" if endpoint == "predict" else ""
        row["rounds"] = {"plain": plain["rounds"], "paired": paired["rounds"]}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "rounds"}), flush=True)
    applicants, paired_count = pairing["paired"]
    rows[0]["paired_scored"], rows[0]["paired_pairs"] = applicants, paired_count
    columns = [
        "endpoint",
        "concurrency",
        "plain_rps",
        "paired_rps",
        "paired_vs_plain",
        "target",
        "plain_p99_ms",
        "paired_p99_ms",
        "plain_cpu_us_per_req",
        "paired_cpu_us_per_req",
        "extra_cpu_us_per_req",
        "plain_errors",
        "paired_errors",
    ]
    notes = (
        f"The real service, dataset `{args.dataset}`, served v2 vs the same with "
        f"`INFERENCE_BASELINE_MODEL_URI` = v1 (another seed): 1 uvicorn worker pinned to one "
        f"core, wrk on the other, {args.rounds} interleaved rounds of {per_round} s per server "
        f"and endpoint; bulk = 1,000 applicants per request (req/s × 1,000 = rows/s). CPU per "
        "request is the server's user+system time divided by requests (the least noisy "
        f"figure). Target: paired ≥ {TARGET:.0%} of plain /predict req/s. The paired server "
        f"scored {applicants:,.0f} applicants and counted {paired_count:,.0f} pairs "
        f"(warm-ups included). Load average after the run: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}. Wall time "
        f"{time.time() - started:.0f} s."
    )
    path = write_results("paired", rows, columns, notes)
    print(f"wrote {path} and its JSON")
    return 0 if applicants == paired_count else 1


if __name__ == "__main__":
    sys.exit(main())
