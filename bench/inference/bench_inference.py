"""Inference benchmark: the full service vs a bare FastAPI app and MLServer, same booster.

Not a test. For each dataset (Default: 3 features; Lending Club: 22, 5 categorical) it
trains a model into a temporary MLflow store, starts the apps as real server processes
(1 worker each, pinned to core 0 with ``taskset``), and loads them with ``wrk`` pinned to
core 1: ``POST /api/v1/predict`` at each concurrency (rotating 256 synthetic applicants)
and ``POST /api/v1/predict/bulk`` with 1,000 rows. The peer, MLServer (``peers.py``: its
own venv, XGBoost runtime, V2 REST), serves the same booster file, pinned the same way,
answering the same applicants encoded as V2 inputs (``POST /v2/models/credit/infer``);
before any measurement its probabilities are checked against ours (within 1e-6); a dataset
with missing values (no NaN in JSON) is measured without it. Each point is measured in
interleaved rounds (bare, full, mlserver, mlserver, full, bare, ...) so all apps see the
same machine noise; req/s and
server CPU per request are totals over the rounds, p50/p99 the median of the rounds. The
figures that matter are the ratios, and the CPU-per-request ratio is the least noisy.

    python bench/inference/bench_inference.py            # ~6 min
    python bench/inference/bench_inference.py --seconds 3 --concurrency 8 --datasets default

Writes ``bench/results/inference.json`` and ``bench/results/inference.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]

from apps import API_KEY  # noqa: E402
from loadgen import Server, bodies, run_wrk  # noqa: E402
from peers import (  # noqa: E402
    INFER_PATH,
    MLServerPeer,
    default_probability,
    ensure_venv,
    export_booster,
    v2_bodies,
)
from report import write_report  # noqa: E402

from services.core.model_store import load_model  # noqa: E402
from services.core.web.serving import HTTP_PARSER  # noqa: E402
from tests.support.models import tracking_uri_for, train_quick  # noqa: E402

APPS = ("bare", "full", "mlserver")
TOLERANCE = 1e-6  # the peer's probabilities vs ours


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12, help="per app and point (s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--bulk-concurrency", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--mlserver-workers", type=int, default=0, help="its parallel_workers")
    parser.add_argument("--datasets", nargs="+", default=["default", "lending_club"])
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=APPS)
    parser.add_argument(
        "--http",
        default=HTTP_PARSER,
        choices=["h11", "httptools"],
        help="uvicorn's HTTP parser for the bare and the full app (the service's by default)",
    )
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


def post(url: str, body: str) -> dict[str, Any]:
    request = urllib.request.Request(url, body.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-API-Key", API_KEY)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{url} answered {exc.code}: {exc.read()[:500]!r}") from None


def check_peer(
    full: Server, peer: Server, singles: list[str], peer_singles: list[str], model: Any
) -> float:
    """Largest |our probability − the peer's| over the applicants, the peer's mapped
    through our calibration (it serves the raw booster); raises above ``TOLERANCE``."""
    worst = 0.0
    for ours, theirs in zip(singles[:64], peer_singles[:64], strict=True):
        expected = post(full.url + "/api/v1/predict", ours)["probability"]
        raw = default_probability(post(peer.url + INFER_PATH, theirs))[0]
        margin = math.log(raw / (1.0 - raw))
        got = float(model.contract.calibration.apply(np.array([margin]))[0])
        worst = max(worst, abs(got - expected))
    if worst > TOLERANCE:
        raise SystemExit(f"MLServer answers differ from ours by {worst:.2e} > {TOLERANCE}")
    return worst


def bench_dataset(
    args: argparse.Namespace, dataset: str, tracking_uri: str, meta: dict[str, Any]
) -> list[dict[str, Any]]:
    model = train_quick(tracking_uri, dataset, nthread=1)
    singles, bulk = bodies(dataset, n_single=256, n_bulk=1000)
    env = {"BENCH_MODEL_URI": model.uri, "MLFLOW_TRACKING_URI": tracking_uri}
    apps = [a for a in APPS if a in args.apps]
    payloads = {a: {"predict": singles, "predict/bulk": [bulk]} for a in apps}
    paths = {a: {e: "/api/v1/" + e for e in ("predict", "predict/bulk")} for a in apps}
    servers: dict[str, Server] = {
        app: Server(app, env, args.server_core, args.http) for app in apps if app != "mlserver"
    }
    loaded = load_model(model.uri, tracking_uri, 1)
    try:
        one, many = v2_bodies(loaded, singles, bulk)
    except ValueError as exc:  # missing values: JSON has no NaN for the V2 input
        print(f"{dataset}: no MLServer ({exc})", flush=True)
        apps = [a for a in apps if a != "mlserver"]
    if "mlserver" in apps:
        payloads["mlserver"] = {"predict": one, "predict/bulk": [many]}
        paths["mlserver"] = {"predict": INFER_PATH, "predict/bulk": INFER_PATH}
        booster = export_booster(model.uri, tracking_uri, Path(tempfile.mkdtemp()) / "peer")
        servers["mlserver"] = MLServerPeer(booster, args.server_core, args.mlserver_workers)
    rows: list[dict[str, Any]] = []
    try:
        for server in servers.values():
            server.start()
        if "mlserver" in servers and "full" in servers:
            worst = check_peer(
                servers["full"],
                servers["mlserver"],
                singles,
                payloads["mlserver"]["predict"],
                loaded,
            )
            meta.setdefault("peer_max_abs_diff", {})[dataset] = worst
            print(f"{dataset}: MLServer agrees with us within {worst:.1e}", flush=True)
        for app, server in servers.items():  # warm-up, once all are up
            url = server.url + paths[app]["predict"]
            run_wrk(url, payloads[app]["predict"], 8, 2, args.client_core)
        plan = [("predict", c) for c in args.concurrency]
        plan += [("predict/bulk", c) for c in args.bulk_concurrency]
        per_round = max(1, round(args.seconds / args.rounds))  # wrk takes whole seconds
        for endpoint, conc in plan:
            runs: dict[str, list[dict[str, Any]]] = {app: [] for app in apps}
            for i in range(args.rounds):  # interleaved, alternating order: shared noise
                for app in apps if i % 2 == 0 else apps[::-1]:
                    url = servers[app].url + paths[app][endpoint]
                    stats = measure(
                        servers[app],
                        url,
                        payloads[app][endpoint],
                        conc,
                        per_round,
                        args.client_core,
                    )
                    runs[app].append(stats)
            for app in apps:
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


def xgboost_version() -> str:
    import xgboost

    return str(xgboost.__version__)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    meta: dict[str, Any] = {}
    if "mlserver" in args.apps:
        meta["peer"] = {"name": "MLServer", "version": ensure_venv(), "runtime": "mlserver-xgboost"}
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        tracking_uri = tracking_uri_for(Path(tmp) / "mlflow")
        rows = [r for d in args.datasets for r in bench_dataset(args, d, tracking_uri, meta)]
    meta |= {
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
        "http_parser": args.http,
        "xgboost": xgboost_version(),
        "mlserver_workers": args.mlserver_workers,
    }
    write_report(args.out, rows, meta)
    print(f"wrote {args.out / 'inference.json'} and {args.out / 'inference.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
