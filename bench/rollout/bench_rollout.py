"""Rollout benchmark: how fast the loop reacts, on the real parts of the e2e suite.

Runs on one control plane + Prometheus + operator (``tests/e2e/harness``):

- **rollback**: a canary whose Deployment gets ``INFERENCE_FAULT_ERROR_RATE`` (5xx) as soon
  as it exists. Fault injection time = the faulty canary first takes traffic (its pod
  Ready and a canary weight on the route); rollback completed = phase ``Failed`` (the
  route is back at 100 % stable before that). Compared with ``interval ×
  failureThreshold`` (target: at most one interval late).
- **promotion**: a healthy candidate, apply → ``Succeeded`` against ``steps × interval``
  once the canary pod holds the 200 rows the PSI gates wait for, split into canary
  start-up, analysis and the stable rolling update.
- failed requests of the steady load during the promotion (``Promoting`` →
  ``Succeeded`` + 2 s) and during the rollback (``RollingBack`` → ``Failed`` + 2 s);
  the canary's own injected 5xx before the rollback are counted apart.
- with ``--suite``: wall time of ``pytest tests/e2e`` (and of each test).

Run: python bench/rollout/bench_rollout.py [--repeat N] [--suite]
Results: bench/results/rollout.json and rollout.md. Ratios, measured on a shared machine.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from tests.e2e.harness.cluster import Cluster, start_cluster  # noqa: E402
from tests.e2e.harness.kube import items  # noqa: E402
from tests.e2e.harness.loadgen import LoadStats  # noqa: E402
from tests.e2e.harness.models import (  # noqa: E402
    BaseModels,
    register_scenario_models,
    train_base_models,
)
from tests.e2e.harness.operator import OperatorProcess  # noqa: E402
from tests.e2e.harness.prometheus import PrometheusServer  # noqa: E402
from tests.e2e.harness.recorder import Recorder  # noqa: E402
from tests.e2e.harness.scenario import Scenario  # noqa: E402
from tests.e2e.harness.waits import wait_for  # noqa: E402

INTERVAL = 5.0
THRESHOLD = 2
STEPS = [20, 40, 60]
RATE = 50.0  # req/s of the steady load (``Scenario.start_load``'s default)
MIN_DRIFT_SAMPLES = 200  # ``analysis.minDriftSamples`` default: rows before PSI counts
CANARY_SPEC = {"steps": STEPS, "interval": f"{INTERVAL:g}s", "failureThreshold": THRESHOLD}
CANARY = "inference-canary"
FAULT = "INFERENCE_FAULT_ERROR_RATE"


class World:
    """One cluster, Prometheus, operator and trained models for every run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.models: BaseModels = train_base_models(workdir / "mlflow")
        self.cluster: Cluster = start_cluster(workdir / "cluster")
        self.prometheus = PrometheusServer(workdir / "prometheus").start()
        self.operator = OperatorProcess(
            self.cluster.operator_kubeconfig, self.models.tracking_uri, workdir / "operator"
        ).start()
        self.runs = 0

    def scenario(self, label: str) -> Scenario:
        self.runs += 1
        namespace = f"bench-{label}-{self.runs}"
        models = register_scenario_models(self.models, namespace)
        found = Scenario(self.cluster, self.prometheus, models, namespace, self.workdir / namespace)
        return found.setup(replicas=2, hpa=(2, 4))

    def close(self) -> None:
        self.operator.stop()
        self.prometheus.stop()
        self.cluster.stop()


def _at(recorder: Recorder, phase: str) -> float | None:
    sample = recorder.first(lambda s: s.phase == phase)
    return sample.at if sample else None


def _failed(stats: LoadStats, start: float | None, end: float | None) -> int | None:
    if start is None or end is None:
        return None
    return len(stats.failed_between(start, end + 2.0))


def _faulty_ready(s: Scenario) -> float | None:
    """When the first canary pod carrying the fault turned Ready (the runner's stamp)."""
    for pod in items(s.cluster.api, s.core.list_namespaced_pod(s.namespace)):
        env = {e["name"] for e in pod["spec"]["containers"][0].get("env") or []}
        if not pod["metadata"]["name"].startswith(CANARY) or FAULT not in env:
            continue
        for c in pod["status"].get("conditions") or []:
            if c["type"] == "Ready" and c["status"] == "True":
                return time.time()
    return None


def _metric(run: str, metric: str, value: Any, target: str = "") -> dict[str, Any]:
    if isinstance(value, float):
        value = round(value, 1)
    return {"run": run, "metric": metric, "value": value, "target": target}


def _verdicts(s: Scenario) -> str:
    """The analyses in order, e.g. ``TooFewRequests@20, GatesPassed@20, ...``."""
    return ", ".join(f"{r['reason']}@{r['weight']}" for r in s.status().get("history") or [])


def rollback_run(world: World) -> list[dict[str, Any]]:
    s = world.scenario("rollback")
    try:
        load = s.start_load()
        # 40 requests per analysis: the first window (5 s at 20 %) already counts, so the
        # reaction is the controller's, not the inconclusive first window of the suite's 80
        s.apply_rollout(canary=CANARY_SPEC, analysis={"minRequests": 40})
        wait_for(lambda: s.deployment(CANARY), 60, "canary Deployment")
        s.set_env(CANARY, {FAULT: "0.3"})
        injected = wait_for(lambda: _faulty_ready(s), 90, "a faulty canary pod ready")
        s.wait_phase("Failed", "Succeeded", timeout=150)
        time.sleep(2.5)
        stats = load.stop()
        rec, run = s.recorder, "rollback (5xx in the canary)"
        back = rec.first(lambda x: x.phase in ("RollingBack", "Failed"))
        done = _at(rec, "Failed")
        routed = rec.first(lambda x: x.route.get("canary", 0) > 0)
        serving = max(injected, routed.at) if routed else injected
        budget = INTERVAL * THRESHOLD
        reaction = done - serving if done else None
        return [
            _metric(
                run,
                "outcome",
                f"{s.status().get('phase')} ({(s.condition('Promoted') or {}).get('reason')})",
                "Failed (FailedChecks)",
            ),
            _metric(
                run,
                "fault serving → rollback completed (s)",
                reaction,
                f"≤ interval × threshold + 1 interval = {budget + INTERVAL:g}",
            ),
            _metric(run, "interval × threshold (s)", budget),
            _metric(
                run,
                "late by (intervals)",
                (reaction - budget) / INTERVAL if reaction else None,
                "≤ 1",
            ),
            _metric(run, "analyses", _verdicts(s)),
            _metric(run, "max canary weight (%)", rec.max_canary_route_weight(), "< 50"),
            _metric(
                run,
                "canary 5xx before the rollback (injected)",
                len(stats.failed_between(0, back.at if back else None)),
            ),
            _metric(
                run,
                "failed requests during the rollback",
                _failed(stats, back.at if back else None, done),
                "0",
            ),
            _metric(run, "requests sent", stats.sent()),
        ]
    finally:
        s.teardown()


def promotion_run(world: World) -> list[dict[str, Any]]:
    s = world.scenario("promotion")
    try:
        load = s.start_load()
        applied = time.time()
        s.apply_rollout(canary=CANARY_SPEC)
        s.wait_phase("Succeeded", "Failed", timeout=240)
        wait_for(lambda: s.deployment(CANARY) is None, 60, "canary removed")
        time.sleep(2.5)
        stats = load.stop()
        rec, run = s.recorder, "promotion (healthy candidate)"
        progressing, promoting, done = (
            _at(rec, p) for p in ("Progressing", "Promoting", "Succeeded")
        )
        budget = len(STEPS) * INTERVAL
        fill = MIN_DRIFT_SAMPLES / (RATE * STEPS[0] / 100)  # one canary pod at the first step
        analysis = promoting - progressing if promoting and progressing else None
        return [
            _metric(run, "outcome", s.status().get("phase"), "Succeeded"),
            _metric(run, "apply → promoted (s)", done - applied if done else None),
            _metric(
                run, "  apply → canary ready (s)", progressing - applied if progressing else None
            ),
            _metric(
                run,
                "  canary analysis (s)",
                analysis,
                f"steps × interval = {budget:g}, after the canary pod's first "
                f"{MIN_DRIFT_SAMPLES} rows for the PSI gates (≈ {fill:g} s at "
                f"{RATE * STEPS[0] / 100:g} req/s)",
            ),
            _metric(
                run, "  stable rolling update (s)", done - promoting if done and promoting else None
            ),
            _metric(run, "analyses", _verdicts(s), f"{len(STEPS)} passed"),
            _metric(
                run, "failed requests during the promotion", _failed(stats, promoting, done), "0"
            ),
            _metric(run, "failed requests in the whole run", len(stats.failures), "0"),
            _metric(run, "requests sent", stats.sent()),
        ]
    finally:
        s.teardown()


def suite_run() -> list[dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/e2e",
            "--durations=0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    run = "suite: pytest tests/e2e"
    rows = [
        _metric(run, "wall time (s)", wall, "< 600"),
        _metric(run, "result", lines[-1] if lines else proc.returncode),
    ]
    for secs, name in re.findall(r"^([\d.]+)s call\s+\S+::(test_\w+)", proc.stdout, re.M):
        rows.append(_metric(run, f"  {name} (s)", float(secs)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement")
    parser.add_argument("--suite", action="store_true", help="also time the e2e suite")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        world = World(Path(tmp))
        try:
            for _ in range(args.repeat):
                rows += rollback_run(world)
                rows += promotion_run(world)
        finally:
            world.close()
    if args.suite:
        rows += suite_run()
    notes = (
        f"interval {INTERVAL:g}s, failureThreshold {THRESHOLD}, steps {STEPS}, analysis "
        "window 10s, minRequests 80 (rollback run: 40); 50 req/s steady load; stable 2 "
        "replicas (HPA 2-4). "
        "Wall-clock seconds on a shared 2-core machine: read them as ratios."
    )
    print(write_results("rollout", rows, ["run", "metric", "value", "target"], notes))


if __name__ == "__main__":
    main()
