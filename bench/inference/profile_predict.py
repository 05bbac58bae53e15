"""Where the CPU of one ``POST /api/v1/predict`` goes, by component (cProfile under load).

Not a test. Trains the Default model, serves the full app (every feature on: API key,
contract validation, metrics, drift, rate limiter, request ids; ``apps.full_app``) with
uvicorn in this process, and loads it with ``wrk`` (pinned to the client core) twice: once
plain, for the real CPU µs per request, and once under ``cProfile``. Each component's share
of the profiled time (inclusive time of its entry points) is scaled to the plain CPU µs
per request; *framework* is the rest (uvicorn's HTTP parsing, Starlette/FastAPI routing,
the event loop). The profiler inflates small calls, so the shares are indicative.

    python bench/inference/profile_predict.py --name before
    python bench/inference/profile_predict.py --name after

Writes ``bench/results/inference_profile_<name>.json`` (``profile_report.py`` renders both).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).parent)]

import psutil  # noqa: E402
import uvicorn  # noqa: E402
from loadgen import bodies, run_wrk  # noqa: E402

from services.core.web.serving import HTTP_PARSER  # noqa: E402
from tests.support.models import tracking_uri_for, train_quick  # noqa: E402
from tests.support.processes import free_port  # noqa: E402

# component -> entry points (function name, path suffix): inclusive time, nested ones not
# double counted because no entry point calls another
COMPONENTS: dict[str, list[tuple[str, str]]] = {
    "auth (API key)": [("check", "services/core/web/auth.py")],
    "rate limiter": [("check", "services/core/web/limiter.py")],
    "body read + validation": [("read_json", "services/core/web/bodies.py")],
    "encode": [("encode", "services/core/encoding.py")],
    "model call (xgboost)": [
        ("predict_one", "services/core/model_store.py"),
        ("predict", "services/core/model_store.py"),
    ],
    "micro-batch queue": [("score", "services/inference/batching.py")],
    "drift": [("observe", "services/inference/drift.py"), ("flush", "services/inference/drift.py")],
    "metrics (score + HTTP)": [
        ("observe_score", "services/inference/metrics.py"),
        ("observe_scores", "services/inference/metrics.py"),
        ("_record", "services/inference/middleware.py"),
    ],
    "JSON response": [("render", "services/core/web/fast_json.py")],
}


# the framework's own time (exclusive), by where the code lives
FRAMEWORK: dict[str, tuple[str, ...]] = {
    "uvicorn + h11/httptools (HTTP parsing)": ("/uvicorn/", "/h11/", "httptools"),
    "Starlette/FastAPI (routing, Request, responses)": ("/starlette/", "/fastapi/"),
    "asyncio event loop + sockets": ("/asyncio/", "selectors.py", "socket.py"),
    "our ASGI middlewares + route": (
        "services/core/web/request_id.py",
        "services/core/web/limits.py",
        "services/core/web/methods.py",
        "services/core/web/asgi.py",
        "services/inference/middleware.py",
        "services/inference/routes/predict.py",
        "services/inference/scoring.py",
        "services/inference/deps.py",
    ),
}


def exclusive(stats: pstats.Stats, parts: tuple[str, ...]) -> float:
    total = 0.0
    for (file, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if any(p in file for p in parts):
            total += tottime
    return total


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="current")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--client-core", default="1")
    parser.add_argument(
        "--http", default=HTTP_PARSER, choices=["h11", "httptools"], help="uvicorn's HTTP parser"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--dump", type=Path, help="also write the raw cProfile stats here")
    return parser.parse_args(argv)


def inclusive(stats: pstats.Stats, name: str, suffix: str) -> float:
    """Inclusive seconds of the function ``name`` defined in a file ending in ``suffix``,
    counting only calls from outside itself (no recursion double count)."""
    total = 0.0
    for (file, _, func), (_, _, _, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and file.endswith(suffix):
            total += cumtime
    return total


async def serve_and_load(args: argparse.Namespace, singles: list[str]) -> dict[str, Any]:
    from apps import full_app

    port = free_port()
    config = uvicorn.Config(
        full_app(), port=port, log_level="warning", access_log=False, http=args.http, loop="asyncio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.05)
    url = f"http://127.0.0.1:{port}/api/v1/predict"
    me = psutil.Process()

    async def load(seconds: int) -> tuple[dict[str, Any], float]:
        before = me.cpu_times()
        stats = await asyncio.to_thread(
            run_wrk, url, singles, args.concurrency, seconds, args.client_core
        )
        after = me.cpu_times()
        return stats, (after.user + after.system) - (before.user + before.system)

    await load(2)  # warm-up
    plain, cpu = await load(args.seconds)
    profiler = cProfile.Profile()
    profiler.enable()
    profiled, _ = await load(args.seconds)
    profiler.disable()
    server.should_exit = True
    await task
    stats = pstats.Stats(profiler)
    if args.dump is not None:
        stats.dump_stats(args.dump)
    total = stats.total_tt  # type: ignore[attr-defined]
    us_per_req = cpu / plain["requests"] * 1e6
    parts: dict[str, float] = {}
    for component, entries in COMPONENTS.items():
        seconds = sum(inclusive(stats, n, s) for n, s in entries)
        parts[component] = round(seconds / total * us_per_req, 1)
    parts["framework (uvicorn, Starlette/FastAPI, event loop, middlewares)"] = round(
        us_per_req - sum(parts.values()), 1
    )
    detail = {k: round(exclusive(stats, v) / total * us_per_req, 1) for k, v in FRAMEWORK.items()}
    return {
        "framework_detail_us": detail,
        "rps": plain["rps"],
        "cpu_us_per_req": round(us_per_req, 1),
        "profiled_rps": profiled["rps"],
        "components_us": parts,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.sched_setaffinity(0, {0})  # the server core, as in the benchmark
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        tracking_uri = tracking_uri_for(Path(tmp) / "mlflow")
        model = train_quick(tracking_uri, "default", nthread=1)
        os.environ |= {"BENCH_MODEL_URI": model.uri, "MLFLOW_TRACKING_URI": tracking_uri}
        singles, _ = bodies("default", n_single=256, n_bulk=1)
        result = asyncio.run(serve_and_load(args, singles))
    result |= {
        "name": args.name,
        "http": args.http,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    path = args.out / f"inference_profile_{args.name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
