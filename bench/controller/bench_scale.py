"""The controller at scale: N ModelRollouts in flight, analysed against a real Prometheus.

Per N (default 50, 250, 1000): a fresh control plane (etcd + kube-apiserver, the fake
kubelet of the operator tests), N stable workloads and N ModelRollouts (a share of them
with a failing candidate), a real ``prometheus`` scraping synthetic per-pod series of
every canary and stable (``exporter.py``, one process) and the real operator in its own
process (``scale_operator.py``: ``CONTROLLER_*`` settings, Prometheus allow-listed,
adapters counting). Reports reconcile wall p50/p99, wall time to all verdicts, controller
RSS and CPU, API requests and Prometheus queries per analysis and wrong verdicts.

Columns: ``reconcile_p50/p99_ms`` wall time of the handler's ``reconcile`` call;
``idle_ticks`` ticks skipped without a reconcile (not timed, not in ``reconciles``):
finished rollouts, and Progressing ones whose next analysis is not due;
``wall_to_verdicts_s`` from the first ModelRollout created to the last
one Succeeded or Failed; ``rss_peak_mb`` the controller process's peak RSS (sampled
every 2 s), ``cpu_s`` its user+system CPU from the first ModelRollout to the last
verdict; ``analyses`` the sum of ``status.analysisCount``; ``api_per_analysis`` the
controller adapter's API requests (kopf's own watch/patch requests not counted) over
analyses, ``api_per_reconcile`` over reconciles; ``promql_per_analysis`` PromQL queries,
``prom_http_per_analysis`` with the ``/-/ready`` probe; ``lateness_p99_s`` how much
later than one interval after the previous analysis an analysis ran;
``rollback_reaction_p99_s`` from the failed analysis to phase Failed; ``wrong_verdicts``
healthy candidates Failed plus failing ones Succeeded.

Run: python bench/controller/bench_scale.py [--rollouts 50,250,1000] [--failing 0.2]
(results in bench/results/controller_scale.*)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from bench.controller.counting import (  # noqa: E402
    analysis_lateness,
    percentile,
    rollback_reaction,
    verdicts,
)
from bench.controller.exposition import Rates, plan, shards  # noqa: E402
from bench.controller.harness import MODEL, models, prepare_cluster  # noqa: E402
from controller.kube import HPAS, ROLLOUTS, Kube, KubeError  # noqa: E402
from services.core.logs import configure_logging  # noqa: E402
from tests.e2e.harness.prometheus import BINARY, PrometheusServer, config  # noqa: E402
from tests.integration.controller.cluster import (  # noqa: E402
    NS,
    FakeKubelet,
    rollout,
    stable_world,
)
from tests.support.controlplane import (  # noqa: E402
    DEFAULT_APISERVER_FLAGS,
    ControlPlane,
    build_if_missing,
    find_binary,
)
from tests.support.processes import free_port, stop, wait_for_port  # noqa: E402

COLUMNS = [
    "rollouts",
    "failing",
    "wrong_verdicts",
    "unfinished",
    "wall_to_verdicts_s",
    "reconciles",
    "idle_ticks",
    "reconcile_p50_ms",
    "reconcile_p99_ms",
    "rss_peak_mb",
    "cpu_s",
    "analyses",
    "api_per_analysis",
    "api_per_reconcile",
    "api_writes_per_analysis",
    "mlflow_writes_per_analysis",
    "promql_per_analysis",
    "prom_http_per_analysis",
    "query_p99_ms",
    "lateness_p99_s",
    "rollback_reaction_p99_s",
]


# the test control plane's /24 holds 254 Service IPs; N stable + N canary Services need more
APISERVER_FLAGS = (*DEFAULT_APISERVER_FLAGS, "--service-cluster-ip-range=10.0.0.0/16")


@dataclass(frozen=True)
class Options:
    failing: float = 0.2
    tick: float = 5.0  # CONTROLLER_TICK_SECONDS (the default)
    interval: float = 10.0  # spec.canary.interval (= analysis window)
    steps: tuple[int, ...] = (25, 50)
    min_requests: int = 100  # canary requests per window: 2 pods x 10/s x 10 s = 200
    scrape: str = "2s"
    per_shard: int = 25  # rollouts per scrape target
    timeout: float = 1500.0  # seconds to wait for all verdicts
    workers: int = 8  # CONTROLLER_WORKERS
    sample: bool = False  # stack samples of the reconcile threads (diagnosis; costs CPU)


class BenchPrometheus(PrometheusServer):
    """The e2e harness's Prometheus with the benchmark's scrape interval."""

    def __init__(self, workdir: Path, interval: str) -> None:
        super().__init__(workdir)
        cfg = config(self.targets.path)
        cfg["global"] = {k: interval for k in cfg["global"]}
        self.config_path.write_text(yaml.safe_dump(cfg))


def versions() -> dict[str, str]:
    from importlib.metadata import version

    def first_line(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).splitlines()[0].strip()
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    return {
        "kopf": version("kopf"),
        "kubernetes-client": version("kubernetes"),
        "httpx": version("httpx"),
        "prometheus": first_line([BINARY, "--version"]),
        "kube-apiserver": first_line(
            [find_binary("kube-apiserver") or "kube-apiserver", "--version"]
        ),
    }


class Processes:
    """The benchmark's own child processes (exporter, operator), stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            stop(proc, timeout=60.0)
        self.procs.clear()


def wait_scraped(prom: PrometheusServer, targets: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if prom.value("count(up == 1)") == targets:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise TimeoutError(f"Prometheus does not scrape {targets} exporter targets: {prom.log_tail()}")


def wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{proc.args!r} not ready (exit {proc.poll()}):\n{tail}")
        time.sleep(0.2)


class Sampler:
    """Peak RSS and open file descriptors of the controller process, sampled while it runs."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.rss_peak = self.fds_peak = 0

    def sample(self) -> None:
        with self.proc.oneshot():
            self.rss_peak = max(self.rss_peak, self.proc.memory_info().rss)
            self.fds_peak = max(self.fds_peak, self.proc.num_fds())

    def cpu(self) -> float:
        times = self.proc.cpu_times()
        return float(times.user + times.system)


def rollout_body(app: str, candidate: str, prom_url: str, opts: Options) -> dict[str, Any]:
    return rollout(
        f"mro-{app}",
        app,
        f"models:/{MODEL}/{candidate}",
        canary={
            "steps": list(opts.steps),
            "interval": f"{opts.interval:g}s",
            "progressDeadline": "10m",
        },
        analysis={"minRequests": opts.min_requests},
        prometheus={"address": prom_url, "selector": {"app": app}},
    )


def run(
    count: int, tracking: str, candidates: list[str], opts: Options, workdir: Path
) -> dict[str, Any]:
    build_if_missing(["kube-apiserver"])
    load = os.getloadavg()
    workdir.mkdir(parents=True, exist_ok=True)
    rollouts = plan(count, opts.failing, candidates)
    failing = {f"mro-{r.app}": r.failing for r in rollouts}
    names = list(failing)
    children = Processes()
    prom = BenchPrometheus(workdir / "prometheus", opts.scrape)
    try:
        with ControlPlane(apiserver_flags=APISERVER_FLAGS) as cp:
            admin = prepare_cluster(cp)
            port = free_port()
            plan_file = workdir / "plan.json"
            plan_file.write_text(
                json.dumps(
                    {
                        "rollouts": [asdict(r) for r in rollouts],
                        "perShard": opts.per_shard,
                        "rates": asdict(Rates()),
                    }
                )
            )
            children.start(
                [
                    sys.executable,
                    "-m",
                    "bench.controller.exporter",
                    "--plan",
                    str(plan_file),
                    "--port",
                    str(port),
                ],
                workdir / "exporter.log",
            )
            wait_for_port(port, timeout=60)
            prom.start()
            targets = len(shards(rollouts, opts.per_shard))
            for i in range(targets):
                # a label per shard: the targets share an address, so their ``up`` would too
                labels = {"__metrics_path__": f"/metrics/{i}", "shard": str(i)}
                prom.targets.set(f"shard{i}", f"127.0.0.1:{port}", labels)
            wait_scraped(prom, targets)
            started = time.perf_counter()
            for r in rollouts:
                for obj in stable_world(r.app, f"models:/{MODEL}/1", replicas=2):
                    admin.apply(obj)
            setup_s = time.perf_counter() - started
            sa = cp.serviceaccount_kubeconfig(
                NS, "modelrollout-controller", create=False, expiration_seconds=7200
            )
            env = {
                "CONTROLLER_KUBECONFIG": str(sa),
                "CONTROLLER_NAMESPACES": NS,
                "CONTROLLER_TICK_SECONDS": f"{opts.tick:g}",
                "CONTROLLER_METRICS_PORT": "0",
                "CONTROLLER_LIVENESS_PORT": "0",
                "CONTROLLER_PROMETHEUS_ALLOWLIST": prom.url,
                "CONTROLLER_LOG_LEVEL": "WARNING",
                "CONTROLLER_WORKERS": str(opts.workers),
                "MLFLOW_TRACKING_URI": tracking,
            }
            ready, stats_file, log = (
                workdir / "ready",
                workdir / "stats.json",
                workdir / "operator.log",
            )
            with FakeKubelet(admin, period=max(0.5, count / 500)):
                operator = children.start(
                    [
                        sys.executable,
                        "-m",
                        "bench.controller.scale_operator",
                        "--ready",
                        str(ready),
                        "--stats",
                        str(stats_file),
                        *(["--sample"] if opts.sample else []),
                    ],
                    log,
                    env,
                )
                wait_file(ready, operator, 120, log)
                sampler = Sampler(operator.pid)
                sampler.sample()
                rss_start, cpu_start = sampler.rss_peak, sampler.cpu()
                started = time.perf_counter()
                for r in rollouts:
                    version = r.canary_version or candidates[0]
                    admin.apply(rollout_body(r.app, version, prom.url, opts))
                items = wait_verdicts(admin, names, sampler, started + opts.timeout)
                wall = time.perf_counter() - started
                cpu = sampler.cpu() - cpu_start
                listed = time.perf_counter()
                hpas = len(admin.list(HPAS, NS))  # what each active reconcile LISTs
                hpa_list_ms = 1000 * (time.perf_counter() - listed)
                sampler.sample()
                operator.send_signal(15)
                operator.wait(120)
            stats = json.loads(stats_file.read_text())
            return figures(count, failing, items, stats, opts) | {
                "wall_to_verdicts_s": round(wall, 1),
                "rss_start_mb": round(rss_start / 2**20),
                "rss_peak_mb": round(sampler.rss_peak / 2**20),
                "fds_peak": sampler.fds_peak,
                "cpu_s": round(cpu, 1),
                "setup_s": round(setup_s, 1),
                "scrape_targets": targets,
                "series": count * 100,
                "hpa_list_items": hpas,
                "hpa_list_ms": round(hpa_list_ms, 1),
                "load_before": [round(x, 2) for x in load],
            }
    finally:
        children.stop_all()
        prom.stop()


def wait_verdicts(
    admin: Kube, names: list[str], sampler: Sampler, deadline: float
) -> dict[str, Any]:
    """Poll (one LIST) until every rollout has a verdict or ``deadline``; the last items."""
    wanted, items = set(names), dict[str, Any]()
    while True:
        sampler.sample()
        try:
            listed = admin.request("GET", ROLLOUTS.path(NS)).get("items", [])
        except KubeError:  # an overloaded apiserver timed the LIST out: poll again
            listed = list(items.values()) if time.perf_counter() > deadline else None
            if listed is None:
                time.sleep(2.0)
                continue
        items = {i["metadata"]["name"]: i for i in listed if i["metadata"]["name"] in wanted}
        done = [
            n
            for n in names
            if (items.get(n, {}).get("status") or {}).get("phase") in ("Succeeded", "Failed")
        ]
        if len(done) == len(names) or time.perf_counter() > deadline:
            return items
        time.sleep(2.0)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(1000 * value, 1)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def by_phase(walls: list[float], phases: list[str]) -> dict[str, Any]:
    """Reconcile wall p50/p99 (ms) and count by the phase each reconcile decided."""
    groups: dict[str, list[float]] = {}
    for wall, phase in zip(walls, phases, strict=True):
        groups.setdefault(phase, []).append(wall)
    return {
        phase: {
            "n": len(found),
            "p50": _ms(percentile(found, 0.5)),
            "p99": _ms(percentile(found, 0.99)),
        }
        for phase, found in sorted(groups.items())
    }


# MLflow calls that write: one tag, an alias, or (a SQL store) a version's tags at once
MLFLOW_WRITES = ("set_model_version_tag", "set_registered_model_alias", "set_model_version_tags")


def phase_split(walls: list[float], tallies: list[dict[str, float]]) -> dict[str, Any]:
    """Mean wall ms per phase of a reconcile (``clock.PhaseClock``), over all reconciles
    and over the slowest 1 % (wall >= p99); ``other`` = wall - parse - observe - decide -
    execute (the lock, the counting, the GIL between them); ``effects`` and
    ``status_write`` are parts of ``execute``, the MLflow ones of ``observe``/``effects``."""
    if not tallies or len(tallies) != len(walls):
        return {}
    cut = percentile(walls, 0.99) or 0.0

    def mean(rows: list[tuple[float, dict[str, float]]]) -> dict[str, float]:
        labels = sorted({k for _, t in rows for k in t})
        out = {k: round(1000 * sum(t.get(k, 0.0) for _, t in rows) / len(rows), 1) for k in labels}
        top = ("parse", "observe", "decide", "execute")
        other = sum(w - sum(t.get(k, 0.0) for k in top) for w, t in rows) / len(rows)
        return out | {"other": round(1000 * other, 1), "n": len(rows)}

    pairs = list(zip(walls, tallies, strict=True))
    return {"all": mean(pairs), "slowest_1pct": mean([p for p in pairs if p[0] >= cut])}


def slowest_cpu(walls: list[float], cpus: list[float]) -> float | None:
    """Mean CPU ms (the tick thread's own) of the slowest 1 % of reconciles by wall."""
    cut = percentile(walls, 0.99)
    found = [c for w, c in zip(walls, cpus, strict=False) if cut is not None and w >= cut]
    return _ms(sum(found) / len(found)) if found else None


def figures(
    count: int,
    failing: dict[str, bool],
    items: dict[str, Any],
    stats: dict[str, Any],
    opts: Options,
) -> dict[str, Any]:
    statuses = {name: (item.get("status") or {}) for name, item in items.items()}
    sorted_out = verdicts(failing, {n: s.get("phase") for n, s in statuses.items()})
    analyses = sum(int(s.get("analysisCount") or 0) for s in statuses.values())
    lateness = [
        x
        for s in statuses.values()
        for x in analysis_lateness(s.get("history") or [], opts.interval)
    ]
    reactions = [r for r in (rollback_reaction(s) for s in statuses.values()) if r is not None]
    walls, reconciles = stats["reconcile_wall_s"], len(stats["reconcile_wall_s"])
    mlflow: dict[str, int] = stats.get("mlflow_calls") or {}
    per = max(analyses, 1)
    reasons = Counter(
        f"{s.get('phase')}: {(s.get('lastAnalysis') or {}).get('reason', '-')}"
        for s in statuses.values()
    )
    return {
        "rollouts": count,
        "failing": sum(failing.values()),
        "wrong_verdicts": len(sorted_out["wrong"]),
        "wrong": sorted_out["wrong"],
        "unfinished": len(sorted_out["unfinished"]),
        "reconciles": reconciles,
        "idle_ticks": int(stats.get("idle_ticks") or 0),
        "interval_s": opts.interval,
        "workers": stats.get("workers"),
        "reconcile_p50_ms": _ms(percentile(walls, 0.5)),
        "reconcile_p99_ms": _ms(percentile(walls, 0.99)),
        "reconcile_max_ms": _ms(max(walls) if walls else None),
        "reconcile_cpu_ms_mean": _ms(sum(stats["reconcile_cpu_s"]) / max(reconciles, 1)),
        "reconcile_p99_ms_by_phase": by_phase(walls, stats["reconcile_phase"]),
        "analyses": analyses,
        "api_requests": stats["api_requests"],
        "api_per_analysis": round(stats["api_requests"] / per, 1),
        "api_per_reconcile": round(stats["api_requests"] / max(reconciles, 1), 2),
        "api_calls_per_reconcile": {
            k: round(v / max(reconciles, 1), 2)
            for k, v in sorted(stats["api_calls"].items(), key=lambda kv: -kv[1])
        },
        "api_writes_per_analysis": round(
            sum(v for k, v in stats["api_calls"].items() if not k.startswith("GET ")) / per, 2
        ),
        "api_calls_per_analysis": {
            k: round(v / per, 2)
            for k, v in sorted(stats["api_calls"].items(), key=lambda kv: -kv[1])
        },
        "api_unchanged_writes_per_analysis": {
            k: round(v / per, 2)
            for k, v in sorted(
                (stats.get("api_unchanged_writes") or {}).items(), key=lambda kv: -kv[1]
            )
        },
        "api_errors": stats.get("api_errors") or {},
        "mlflow_call_ms_p50_p99": {
            k: [_ms(percentile(v, 0.5)), _ms(percentile(v, 0.99))]
            for k, v in sorted((stats.get("mlflow_call_s") or {}).items())
        },
        "events_per_analysis": {
            k: round(v / per, 2)
            for k, v in sorted((stats.get("event_reasons") or {}).items(), key=lambda kv: -kv[1])
        },
        "mlflow_writes_per_analysis": round(
            sum(mlflow.get(k, 0) for k in MLFLOW_WRITES) / per,
            2,
        ),
        "mlflow_tags_written_at_once_per_analysis": round(
            stats.get("mlflow_tags_written_at_once", 0) / per, 2
        ),
        "mlflow_repeated_tags_per_analysis": round(stats.get("mlflow_repeated_tags", 0) / per, 2),
        "mlflow_tags_asked_per_analysis": round(stats.get("mlflow_tags_asked", 0) / per, 2),
        "mlflow_calls_per_analysis": {k: round(v / per, 2) for k, v in sorted(mlflow.items())},
        "promql_per_analysis": round(stats["prometheus_queries"] / per, 2),
        "prom_http_per_analysis": round(
            (stats["prometheus_queries"] + stats["prometheus_probes"]) / per, 2
        ),
        "metrics_clients_per_analysis": round(stats["metrics_sources"] / per, 2),
        "query_p50_ms": _ms(percentile(stats["prometheus_query_s"], 0.5)),
        "query_p99_ms": _ms(percentile(stats["prometheus_query_s"], 0.99)),
        "lateness_p50_s": _round(percentile(lateness, 0.5)),
        "lateness_p99_s": _round(percentile(lateness, 0.99)),
        "lateness_max_s": _round(max(lateness) if lateness else None),
        "rollback_reaction_p99_s": _round(percentile(reactions, 0.99)),
        "outcomes": dict(reasons),
        "cache_reads": stats.get("cache_reads") or {},
        "reconcile_phases_ms": phase_split(walls, stats.get("reconcile_phases_s") or []),
        "tick_wait_p50_s": _round(percentile(stats.get("tick_wait_s") or [], 0.5)),
        "tick_wait_p99_s": _round(percentile(stats.get("tick_wait_s") or [], 0.99)),
        "ticks": len(stats.get("tick_wait_s") or []),
        "connection_wait_ms_p50_p99_max": [
            _ms(percentile(stats.get("connection_wait_s") or [], 0.5)),
            _ms(percentile(stats.get("connection_wait_s") or [], 0.99)),
            _ms(max(stats.get("connection_wait_s") or [0.0])),
        ],
        "writes_wait_ms_p50_p99_max": [
            _ms(percentile(stats.get("writes_wait_s") or [], 0.5)),
            _ms(percentile(stats.get("writes_wait_s") or [], 0.99)),
            _ms(max(stats.get("writes_wait_s") or [0.0])),
        ],
        "api_ms_p50_p99_by_request": {
            key: [_ms(percentile(found, 0.5)), _ms(percentile(found, 0.99))]
            for key, found in sorted((stats.get("api_call_s") or {}).items())
        },
        "reconcile_cpu_ms_slowest_1pct": slowest_cpu(walls, stats["reconcile_cpu_s"]),
        "connections_opened": stats.get("connections_opened"),
        "connections_discarded": stats.get("connections_discarded"),
        "cached_objects": stats.get("cached_objects"),
    } | ({"stack_samples": stats["stack_samples"]} if "stack_samples" in stats else {})


def _table(head: list[str], body: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(map(str, r)) + " |" for r in body)])


def breakdown(rows: list[dict[str, Any]]) -> str:
    """Markdown below the main table: API calls per reconcile by request shape and
    reconcile wall time by the phase decided, one column per N."""
    counts = [f"N={r['rollouts']}" for r in rows]
    shapes = sorted(
        {k for r in rows for k in r["api_calls_per_reconcile"]},
        key=lambda k: -max(r["api_calls_per_reconcile"].get(k, 0) for r in rows),
    )
    calls = [[k, *(r["api_calls_per_reconcile"].get(k, 0) for r in rows)] for k in shapes]
    phases = sorted({k for r in rows for k in r["reconcile_p99_ms_by_phase"]})
    walls = [
        [
            phase,
            *(
                "{n} / {p50} / {p99}".format(**r["reconcile_p99_ms_by_phase"][phase])
                if phase in r["reconcile_p99_ms_by_phase"]
                else ""
                for r in rows
            ),
        ]
        for phase in phases
    ]
    return (
        "## API requests per reconcile, by request\n\n"
        + _table(["request", *counts], calls)
        + "\n\n## Reconciles by the phase decided: count / wall p50 ms / wall p99 ms\n\n"
        + _table(["phase", *counts], walls)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollouts", default="50,250,1000", help="comma-separated N")
    parser.add_argument("--failing", type=float, default=0.2, help="share of failing candidates")
    parser.add_argument("--tick", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=8, help="CONTROLLER_WORKERS")
    parser.add_argument(
        "--candidates",
        type=int,
        default=50,
        help="candidate versions registered; rollout i rolls out version i mod this",
    )
    parser.add_argument("--sample", action="store_true", help="stack samples (diagnosis)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    configure_logging("WARNING")
    opts = Options(
        failing=args.failing,
        tick=args.tick,
        interval=args.interval,
        workers=args.workers,
        sample=args.sample,
    )
    rows: list[dict[str, Any]] = []
    path = None
    found = versions()
    notes = (
        f"Real operator in its own process ({opts.workers} workers), tick {opts.tick:g} s, "
        "canary steps "
        f"{'/'.join(map(str, opts.steps))} %, interval {opts.interval:g} s, minRequests "
        f"{opts.min_requests}, {opts.failing:.0%} failing candidates (canary 5xx 20 %); real "
        f"Prometheus scraping every {opts.scrape}; per rollout 2 stable + 2 canary pods x 25 "
        f"series; {args.candidates} candidate versions of one registered model (rollout i "
        f"rolls out version i mod {args.candidates}, so the MLflow tags spread over "
        f"{args.candidates} versions). Versions: {found}. Machine: 2 cores shared with "
        "other work; the control plane, Prometheus, the exporter and the fake kubelet run "
        "beside the controller. Columns: see the module docstring of "
        "bench/controller/bench_scale.py."
    )
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        base = args.workdir or Path(tmp)
        tracking, candidates = models(base / "mlflow", args.candidates)
        for count in (int(n) for n in args.rollouts.split(",")):
            row = run(count, tracking, candidates, opts, base / f"n{count}")
            print(json.dumps(row), flush=True)
            row["versions"] = found  # the JSON's copy of the notes' versions
            rows.append(row)  # written after every N: a later N cut short keeps the rest
            path = write_results("controller_scale", rows, COLUMNS, notes, breakdown(rows))
    if path is not None:
        print(path.read_text())


if __name__ == "__main__":
    main()
