"""What mirroring every request to a canary costs the stable path, through a real proxy.

Not a test. Trains a quick model, starts the stable inference service (one uvicorn
worker, pinned to ``--stable-core``), a canary of the same model with
``INFERENCE_SHADOW=true`` and two Traefik v3 proxies generated from
``traefik_config``: ``plain`` (router -> stable) and ``mirror`` (router -> a
``mirroring`` service: stable, plus a copy of ``--percent`` % of requests to the canary,
answers discarded), Traefik's equivalent of the Gateway API ``RequestMirror`` filter of
the rollout's shadow phase. ``wrk`` loads ``POST /api/v1/predict`` through each proxy at
``--concurrency`` in alternating rounds (plain, mirror, plain, mirror, ...), so both see
the same machine noise. Reported per configuration: stable answered req/s (total over the
rounds), p50/p99 (median of the rounds), non-2xx, stable CPU per request, and the requests
the canary and the stable pod counted in their ``/metrics`` (the proof mirroring happened).

    scripts/gateway/build-traefik.sh             # once: .cache/traefik/bin/traefik
    python bench/gateway/bench_mirror.py         # ~2 min
    python bench/gateway/bench_mirror.py --seconds 3 --rounds 1
    python bench/gateway/bench_mirror.py --canary-nice 19 --name shadow_mirror_canary_niced
    python bench/gateway/bench_mirror.py --canary-sink --name shadow_mirror_sink

Writes ``bench/results/shadow_mirror.json`` and ``bench/results/shadow_mirror.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "bench" / "inference")]

from apps import API_KEY  # noqa: E402
from bench_inference import combine, measure  # noqa: E402
from loadgen import Server, bodies, cpu_seconds, run_wrk  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.common import write_results  # noqa: E402
from bench.gateway.traefik_config import MODES, Mode, dynamic_config, static_args  # noqa: E402
from tests.support.models import tracking_uri_for, train_quick  # noqa: E402
from tests.support.processes import free_port, stop, wait_for_port  # noqa: E402

SINK_NOTE = "; the canary is a sink answering 200 at once (bench/gateway/sink.py)"
TRAEFIK = REPO / ".cache" / "traefik" / "bin" / "traefik"
COLUMNS = [
    "config",
    "rps",
    "p50_ms",
    "p99_ms",
    "requests",
    "non_2xx",
    "socket_errors",
    "stable_received",
    "canary_received",
    "server_cpu_us_per_req",
    "proxy_cpu_us_per_req",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="per configuration and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--percent", type=int, default=100, help="share mirrored to the canary")
    parser.add_argument("--dataset", default="default")
    parser.add_argument("--traefik", type=Path, default=TRAEFIK)
    parser.add_argument("--stable-core", default="0")
    parser.add_argument("--canary-core", default="1")
    parser.add_argument("--proxy-core", default="1")
    parser.add_argument("--client-core", default="1")
    parser.add_argument(
        "--canary-nice",
        type=int,
        default=0,
        help="niceness of the canary: 19 leaves it only the CPU the proxy and wrk do not use, "
        "isolating the proxy's own mirroring cost from the canary's scoring on a shared core",
    )
    parser.add_argument(
        "--canary-sink",
        action="store_true",
        help="the canary is bench/gateway/sink.py (answers 200 at once): only the proxy's "
        "own mirroring cost is left on the shared core, as when the canary runs elsewhere",
    )
    parser.add_argument("--name", default="shadow_mirror", help="results file name")
    return parser.parse_args(argv)


def predict_requests(metrics_text: str) -> int:
    """``POST /api/v1/predict`` requests a pod counted (any status), from its exposition."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "http_requests":
            continue
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if sample.name.endswith("_total") and route.endswith("/predict"):
                total += sample.value
    return int(total)


def received(server: Server | SinkServer) -> int:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        return predict_requests(response.read().decode())


def settled(server: Server | SinkServer, wait: float = 10.0) -> int:
    """The canary's count once the mirrored copies still in flight have landed."""
    count, deadline = received(server), time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = received(server)
        if now == count:
            return now
        count = now
    return count


class SinkServer:
    """``sink.py`` on a free port, pinned to ``core``: a canary that only counts."""

    def __init__(self, core: str) -> None:
        self.core, self.port = core, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        sink = Path(__file__).with_name("sink.py")
        cmd = ["taskset", "-c", self.core, sys.executable, str(sink), str(self.port)]
        self.proc = subprocess.Popen(cmd)
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


class Proxy:
    """One Traefik process with a generated file-provider configuration."""

    def __init__(self, binary: Path, mode: Mode, folder: Path, core: str) -> None:
        self.binary, self.mode, self.core = binary, mode, core
        self.port, self.dynamic = free_port(), folder / f"traefik-{mode}.yml"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, stable: Server, canary: Server | SinkServer, percent: int, probe: str) -> None:
        config = dynamic_config(self.mode, stable.url, canary.url, percent)
        self.dynamic.write_text(json.dumps(config, indent=1))  # JSON is YAML
        cmd = [
            "taskset",
            "-c",
            self.core,
            str(self.binary),
            *static_args(self.port, str(self.dynamic)),
        ]
        self.proc = subprocess.Popen(cmd, cwd=self.dynamic.parent)
        wait_for_port(self.port, timeout=30)
        deadline = time.monotonic() + 30  # the file provider loads after the port opens
        while True:
            request = urllib.request.Request(
                self.url + "/api/v1/predict",
                data=probe.encode(),
                headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"traefik ({self.mode}) never routed /api/v1/predict")
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def renice(pid: int, niceness: int) -> None:
    import psutil

    process = psutil.Process(pid)
    for each in (process, *process.children(recursive=True)):
        each.nice(niceness)


def traefik_version(binary: Path) -> str:
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if line.strip().lower().startswith("version:"):
            return line.split(":", 1)[1].strip()
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown"


def run(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    tracking_uri = tracking_uri_for(folder / "mlflow")
    model = train_quick(tracking_uri, args.dataset, nthread=1)
    singles, _ = bodies(args.dataset, n_single=256, n_bulk=1)
    env = {"BENCH_MODEL_URI": model.uri, "MLFLOW_TRACKING_URI": tracking_uri}
    stable = Server("full", env, args.stable_core)
    shadow = {"INFERENCE_SHADOW": "true", "BENCH_SETTINGS": json.dumps({"shadow": True})}
    canary: Server | SinkServer = (
        SinkServer(args.canary_core)
        if args.canary_sink
        else Server("full", {**env, **shadow}, args.canary_core)
    )
    proxies = {m: Proxy(args.traefik, m, folder, args.proxy_core) for m in MODES}
    runs: dict[Mode, list[dict[str, Any]]] = {m: [] for m in MODES}
    try:
        stable.start()
        canary.start()
        if args.canary_nice:
            assert canary.proc is not None
            renice(canary.proc.pid, args.canary_nice)
        for proxy in proxies.values():
            proxy.start(stable, canary, args.percent, singles[0])
        for proxy in proxies.values():  # warm-up
            run_wrk(proxy.url + "/api/v1/predict", singles, 8, 2, args.client_core)
        for _ in range(args.rounds):
            for mode in MODES:
                proxy = proxies[mode]
                before = {"stable": received(stable), "canary": settled(canary)}
                proxy_cpu = proxy.cpu_seconds()
                url = proxy.url + "/api/v1/predict"
                stats = measure(
                    stable, url, singles, args.concurrency, args.seconds, args.client_core
                )
                stats["proxy_cpu_s"] = proxy.cpu_seconds() - proxy_cpu
                stats["stable_received"] = received(stable) - before["stable"]
                stats["canary_received"] = settled(canary) - before["canary"]
                runs[mode].append(stats)
                print(mode, json.dumps(stats), flush=True)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        canary.stop()
        stable.stop()
    return [summarise(mode, runs[mode]) for mode in MODES]


def summarise(mode: Mode, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    row = {"config": mode, **combine(rounds)}
    row["stable_received"] = sum(r["stable_received"] for r in rounds)
    row["canary_received"] = sum(r["canary_received"] for r in rounds)
    proxy_cpu = sum(r["proxy_cpu_s"] for r in rounds)
    row["proxy_cpu_us_per_req"] = round(proxy_cpu / max(row["requests"], 1) * 1e6, 1)
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.traefik.exists():
        print(
            f"no traefik at {args.traefik}: run scripts/gateway/build-traefik.sh", file=sys.stderr
        )
        return 2
    version = traefik_version(args.traefik)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
        rows = run(args, Path(tmp))
    for row in rows:
        row["traefik"] = version
    plain, mirror = (next(r for r in rows if r["config"] == m) for m in MODES)
    ratio = mirror["rps"] / plain["rps"] if plain["rps"] else 0.0
    notes = (
        f"Traefik {version}; `POST /api/v1/predict` ({args.dataset}) at c={args.concurrency}, "
        f"{args.rounds} alternating rounds of {args.seconds} s per configuration; `mirror` "
        f"copies {args.percent} % of requests to a canary (`INFERENCE_SHADOW=true`), answers "
        f"discarded{SINK_NOTE if args.canary_sink else ''}. "
        f"Stable on core {args.stable_core}; canary on {args.canary_core}, proxy on "
        f"{args.proxy_core}, wrk on {args.client_core}; canary niceness {args.canary_nice}. "
        f"Wall {time.time() - started:.0f} s, "
        f"load average after {[round(x, 2) for x in os.getloadavg()]}."
    )
    after = (
        f"mirror / plain stable req/s: {ratio:.3f}; p99 {mirror['p99_ms']} vs "
        f"{plain['p99_ms']} ms. Rounds: " + "; ".join(f"{r['config']} {r['rounds']}" for r in rows)
    )
    path = write_results(args.name, rows, COLUMNS, notes=notes, after=after)
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
