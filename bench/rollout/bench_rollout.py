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
- with ``--shadow`` (issue 18, ``docs/shadow.md``): the same healthy candidate rolled out
  with a shadow phase and without one, side by side (apply → ``Shadowing``, the phase's
  length against ``duration``/``minRequests`` at the load's rate, → first traffic step, →
  ``Succeeded``, pairs and flip rate), a decision-flipping candidate (apply → rollback in
  ``Shadowing``, applicant requests the canary answered vs mirrored copies it scored), and
  the stable track's failed requests and answered req/s while shadowing vs the same
  pre-traffic stretch without a shadow phase.
- with ``--suite``: wall time of ``pytest tests/e2e`` (and of each test).

Run: python bench/rollout/bench_rollout.py [--repeat N] [--shadow] [--suite]
Results: bench/results/rollout.json and rollout.md. Ratios, measured on a shared machine.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from tests.e2e.harness.cluster import Cluster, start_cluster  # noqa: E402
from tests.e2e.harness.kube import items  # noqa: E402
from tests.e2e.harness.loadgen import LoadGenerator, LoadStats  # noqa: E402
from tests.e2e.harness.models import (  # noqa: E402
    BaseModels,
    register_flipping,
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
SHADOW_DURATION, SHADOW_MIN = 15.0, 300
# the scenarios' candidate (a retrain on another seed) flips ~1.4 % of decisions: against
# the default max 0.02 its Wilson interval needs ~2,000+ pairs, with 0.03 it clears near
# minRequests (as in tests/e2e/test_rollout_shadow.py); the other gates keep their defaults
SHADOW = {
    "enabled": True,
    "duration": f"{SHADOW_DURATION:g}s",
    "minRequests": SHADOW_MIN,
    "timeout": "2m",
    "gates": {"flipRate": {"max": 0.03}},
}


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


class CountSampler:
    """Samples the load's running counts every 250 ms, so rates over any stretch of the
    timeline can be read afterwards (the load generator keeps totals only)."""

    def __init__(self, load: LoadGenerator) -> None:
        self.load = load
        self.samples: list[tuple[float, int, int, int]] = []  # at, stable ok, failed, copies
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-counter", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            stable = self.load.stats.counts().get("stable")
            copies = self.load.stats.mirrors()["canary"]
            ok, failed = (stable.ok, stable.failed) if stable else (0, 0)
            self.samples.append((time.time(), ok, failed, copies))
            if self._stopping.wait(0.25):
                return

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)

    def _at(self, when: float) -> tuple[float, int, int, int]:
        before = [s for s in self.samples if s[0] <= when]
        return before[-1] if before else self.samples[0]

    def between(self, start: float | None, end: float | None) -> tuple[float, int] | None:
        """Stable answers per second (2xx) and stable failures in ``[start, end]``."""
        if start is None or end is None or end <= start or not self.samples:
            return None
        a, b = self._at(start), self._at(end)
        if b[0] <= a[0]:
            return None
        return (b[1] - a[1]) / (b[0] - a[0]), b[2] - a[2]


def _canary_routed(rec: Recorder) -> float | None:
    routed = rec.first(lambda x: x.route.get("canary", 0) > 0)
    return routed.at if routed else None


def _stable_rows(
    run: str, counter: CountSampler, label: str, start: float | None, end: float | None
) -> list[dict[str, Any]]:
    found = counter.between(start, end)
    rate, failed = found if found else (None, None)
    return [
        _metric(run, f"stable answered req/s, {label}", rate, f"≈ {RATE:g} (the load's rate)"),
        _metric(run, f"stable failed requests, {label}", failed, "0"),
    ]


def healthy_run(world: World, shadow: bool) -> list[dict[str, Any]]:
    """The scenarios' candidate with or without a shadow phase, the same spec otherwise."""
    s = world.scenario("shadowed" if shadow else "direct")
    try:
        load = s.start_load()
        counter = CountSampler(load)
        time.sleep(2.0)
        applied = time.time()
        extra: dict[str, Any] = {"shadow": SHADOW} if shadow else {}
        s.apply_rollout(None, canary=CANARY_SPEC, **extra)
        s.wait_phase("Succeeded", "Failed", timeout=300)
        time.sleep(1.0)
        stats = load.stop()
        counter.stop()
        rec = s.recorder
        run = f"healthy candidate, {'with' if shadow else 'without'} shadow phase"
        shadowing, progressing, done = (
            _at(rec, p) for p in ("Shadowing", "Progressing", "Succeeded")
        )
        traffic = _canary_routed(rec)
        rows = [
            _metric(run, "outcome", s.status().get("phase"), "Succeeded"),
            _metric(run, "phases", " → ".join(rec.phases())),
        ]
        if shadow:
            result = s.status().get("shadow") or {}
            floor = max(SHADOW_DURATION, SHADOW_MIN / RATE)
            rows += [
                _metric(
                    run, "apply → ShadowStarted (s)", shadowing - applied if shadowing else None
                ),
                _metric(
                    run,
                    "shadow phase (s)",
                    progressing - shadowing if progressing and shadowing else None,
                    f"≥ max(duration {SHADOW_DURATION:g}, minRequests {SHADOW_MIN} / "
                    f"{RATE:g} req/s = {SHADOW_MIN / RATE:g}) = {floor:g}, "
                    f"+ ≤ 1 interval ({INTERVAL:g})",
                ),
                _metric(
                    run,
                    "shadow verdict",
                    f"{result.get('verdict')} ({result.get('reason')})",
                    "Passed",
                ),
                _metric(run, "pairs compared", result.get("pairs"), f"≥ {SHADOW_MIN}"),
                _metric(
                    run,
                    "flip rate (Wilson upper)",
                    f"{result.get('flipRate', 0):.4f} ({result.get('flipRateUpper', 0):.4f})",
                    "upper ≤ 0.03",
                ),
                _metric(run, "mirrored copies scored by the canary", stats.mirrored["canary"]),
            ]
            rows += _stable_rows(run, counter, "while shadowing", shadowing, progressing)
        rows += [
            _metric(run, "apply → first traffic step (s)", traffic - applied if traffic else None),
            _metric(run, "apply → Succeeded (s)", done - applied if done else None),
            _metric(
                run,
                "  first traffic step → Succeeded (s)",
                done - traffic if done and traffic else None,
            ),
            _metric(run, "analyses", _verdicts(s), f"{len(STEPS)} passed"),
        ]
        rows += _stable_rows(run, counter, "apply → first traffic step", applied, traffic)
        rows += [
            _metric(run, "failed requests in the whole run", len(stats.failures), "0"),
            _metric(run, "requests sent", stats.sent()),
        ]
        return rows
    finally:
        s.teardown()


def flipping_run(world: World) -> list[dict[str, Any]]:
    """A candidate that declines every applicant the stable model approves."""
    s = world.scenario("flipping")
    try:
        flipping = register_flipping(s.models)
        load = s.start_load()
        applied = time.time()
        s.apply_rollout(s.models.uri(flipping), canary=CANARY_SPEC, shadow=SHADOW)
        s.wait_phase("Failed", "Succeeded", timeout=240)
        time.sleep(1.0)
        stats = load.stop()
        rec, run = s.recorder, "flipping candidate (threshold 0), shadow phase"
        shadowing, back, done = (_at(rec, p) for p in ("Shadowing", "RollingBack", "Failed"))
        result = s.status().get("shadow") or {}
        begun = back or done
        return [
            _metric(
                run,
                "outcome",
                f"{s.status().get('phase')} ({(s.condition('Promoted') or {}).get('reason')})",
                "Failed (ShadowFailed)",
            ),
            _metric(run, "phases", " → ".join(rec.phases())),
            _metric(run, "apply → ShadowStarted (s)", shadowing - applied if shadowing else None),
            _metric(
                run,
                "apply → rollback completed (s)",
                done - applied if done else None,
                f"≈ start-up + duration {SHADOW_DURATION:g} + ≤ 1 interval",
            ),
            _metric(
                run,
                "ShadowStarted → rollback begun (s)",
                begun - shadowing if shadowing and begun else None,
            ),
            _metric(run, "pairs compared", result.get("pairs"), f"≥ {SHADOW_MIN}"),
            _metric(run, "flip rate", result.get("flipRate"), "> 0.03 (fails the gate)"),
            _metric(run, "applicant requests answered by the canary", stats.sent("canary"), "0"),
            _metric(run, "mirrored copies scored by the canary", stats.mirrored["canary"]),
            _metric(run, "max canary weight (%)", rec.max_canary_route_weight(), "0"),
            _metric(run, "failed requests in the whole run", len(stats.failures), "0"),
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
    parser.add_argument(
        "--shadow", action="store_true", help="also measure the shadow phase (issue 18)"
    )
    parser.add_argument("--suite", action="store_true", help="also time the e2e suite")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        world = World(Path(tmp))
        try:
            for _ in range(args.repeat):
                rows += rollback_run(world)
                rows += promotion_run(world)
                if args.shadow:
                    rows += healthy_run(world, shadow=False)
                    rows += healthy_run(world, shadow=True)
                    rows += flipping_run(world)
        finally:
            world.close()
    if args.suite:
        rows += suite_run()
    notes = (
        f"interval {INTERVAL:g}s, failureThreshold {THRESHOLD}, steps {STEPS}, analysis "
        "window 10s, minRequests 80 (rollback run: 40); 50 req/s steady load; stable 2 "
        "replicas (HPA 2-4). "
        + (
            f"Shadow runs: shadow {{duration {SHADOW_DURATION:g}s, minRequests {SHADOW_MIN}, "
            "percent 100, flipRate max 0.03}, the same canary spec. "
            if args.shadow
            else ""
        )
        + "Wall-clock seconds on a shared 2-core machine: read them as ratios."
    )
    print(write_results("rollout", rows, ["run", "metric", "value", "target"], notes))


if __name__ == "__main__":
    main()
