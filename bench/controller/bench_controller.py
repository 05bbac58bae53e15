"""Reconcile cost with many ModelRollouts in flight against a real kube-apiserver.

50 rollouts (2 steps each, interval 2 s, healthy fake metrics) run at once under the
controller's ServiceAccount; we measure the control plane's start-up, the wall time to
all promoted, the CPU time of every reconcile (thread CPU of the handler) and the API
requests the controller's adapter makes (kopf's own watch/finalizer requests excluded).

Run: python bench/controller/bench_controller.py [--rollouts 50]
(results in bench/results/controller_reconcile.*)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from bench.controller.harness import Meter, models, phases, prepare_cluster  # noqa: E402
from controller.kube import Kube  # noqa: E402
from controller.mlflow_adapter import ModelRegistry  # noqa: E402
from controller.prometheus import FakeMetricsSource  # noqa: E402
from controller.runtime import Runtime  # noqa: E402
from controller.settings import ControllerSettings  # noqa: E402
from services.core.logs import configure_logging  # noqa: E402
from tests.integration.controller.cluster import (  # noqa: E402
    NS,
    FakeKubelet,
    Operator,
    rollout,
    stable_world,
)
from tests.support.controlplane import ControlPlane, build_if_missing  # noqa: E402

GOOD = {
    "requests": 500,
    "errorRatio": 0.0,
    "latencyP99": 0.05,
    "featurePSI": 0.05,
    "scorePSI": 0.05,
    "positiveRateShift": 0.0,
}
COLUMNS = [
    "rollouts",
    "steps",
    "failed",
    "controlplane_start_s",
    "wall_s",
    "reconciles",
    "cpu_ms_per_reconcile",
    "cpu_s_per_rollout",
    "p95_reconcile_ms",
    "api_requests",
    "api_requests_per_rollout",
    "api_requests_per_step",
]


def run(count: int, steps: list[int]) -> dict[str, Any]:
    build_if_missing(["kube-apiserver"])
    with tempfile.TemporaryDirectory() as tmp, ControlPlane() as cp:
        admin = prepare_cluster(cp)
        tracking, (candidate,) = models(Path(tmp))
        settings = ControllerSettings(
            tick_seconds=1.0,
            metrics_port=0,
            liveness_port=0,
            namespaces=[NS],
            mlflow_tracking_uri=tracking,
        )
        sa = cp.serviceaccount_kubeconfig(NS, "modelrollout-controller", create=False)
        kube = Kube(cp.client(sa), settings.field_manager)
        fake = FakeMetricsSource(GOOD)
        runtime = Runtime(kube, ModelRegistry(tracking), settings, lambda spec: fake)
        names = [f"w{i:02d}" for i in range(count)]
        for name in names:
            for obj in stable_world(name, "models:/bench-model/1", replicas=2):
                admin.apply(obj)
        meter = Meter().install()
        with FakeKubelet(admin, period=0.5):
            operator = Operator(runtime).start()
            started = time.perf_counter()
            spec = {
                "canary": {"steps": steps, "interval": "2s", "progressDeadline": "5m"},
                "analysis": {"minRequests": 100},
            }
            for name in names:
                admin.apply(
                    rollout(f"mro-{name}", name, f"models:/bench-model/{candidate}", **spec)
                )
            rollouts = [f"mro-{n}" for n in names]
            while True:
                found = phases(admin, rollouts)
                if all(p in ("Succeeded", "Failed") for p in found):
                    break
                time.sleep(1.0)
            wall = time.perf_counter() - started
            operator.stop()
        meter.uninstall()
        failed = found.count("Failed")
        return {
            "rollouts": count,
            "steps": len(steps),
            "failed": failed,
            "controlplane_start_s": cp.startup_seconds.get("control-plane"),
            "wall_s": round(wall, 1),
            "reconciles": len(meter.cpu),
            "cpu_ms_per_reconcile": round(1000 * statistics.mean(meter.cpu), 2),
            "cpu_s_per_rollout": round(sum(meter.cpu) / count, 3),
            "p95_reconcile_ms": round(1000 * statistics.quantiles(meter.wall, n=20)[18], 1),
            "api_requests": kube.requests,
            "api_requests_per_rollout": round(kube.requests / count, 1),
            "api_requests_per_step": round(kube.requests / (count * len(steps)), 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollouts", type=int, default=50)
    args = parser.parse_args()
    configure_logging("WARNING")
    row = run(args.rollouts, [25, 50])
    notes = (
        "One run on a shared 2-core machine (figures vary with its load). Tick 1 s per "
        "rollout, interval 2 s, steps 25/50 %; API requests are the controller adapter's "
        "(kopf's watch, finalizer and progress requests are not counted)."
    )
    print(write_results("controller_reconcile", [row], COLUMNS, notes).read_text())


if __name__ == "__main__":
    main()
