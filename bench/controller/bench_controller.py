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

import controller.handlers as handlers  # noqa: E402
from bench.common import write_results  # noqa: E402
from controller.kube import ROLLOUTS, Kube  # noqa: E402
from controller.mlflow_adapter import ModelRegistry  # noqa: E402
from controller.prometheus import FakeMetricsSource  # noqa: E402
from controller.runtime import Runtime  # noqa: E402
from controller.settings import ControllerSettings  # noqa: E402
from services.core.logs import configure_logging  # noqa: E402
from services.core.registry import client  # noqa: E402
from tests.integration.controller.cluster import (  # noqa: E402
    NS,
    FakeKubelet,
    Operator,
    rollout,
    stable_world,
)
from tests.support.controlplane import ControlPlane, build_if_missing  # noqa: E402
from tests.support.models import tracking_uri_for, train_quick  # noqa: E402

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


class Meter:
    """Wraps ``reconcile`` to measure the CPU time of every call (thread CPU)."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.inner = handlers.reconcile

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.cpu.append(time.thread_time() - cpu)
            self.wall.append(time.perf_counter() - wall)


def models(folder: Path) -> tuple[str, str]:
    uri = tracking_uri_for(folder)
    trained = train_quick(uri, "default", model_name="bench-model")
    mlflow_client = client(uri)
    first = mlflow_client.get_model_version("bench-model", trained.summary.version)
    second = mlflow_client.create_model_version("bench-model", str(first.source), first.run_id)
    return uri, str(second.version)


def run(count: int, steps: list[int]) -> dict[str, Any]:
    build_if_missing(["kube-apiserver"])
    with tempfile.TemporaryDirectory() as tmp, ControlPlane() as cp:
        cp.apply(cp.crd_dir("gateway-api"), ROOT / "k8s" / "crd" / "modelrollouts.yaml")
        cp.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        cp.apply(ROOT / "k8s" / "rbac")
        tracking, candidate = models(Path(tmp))
        admin = Kube(cp.client(), "bench")
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
        meter = Meter()
        handlers.reconcile = meter  # type: ignore[assignment]
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
            while True:
                phases = [
                    (admin.get(ROLLOUTS, NS, f"mro-{n}") or {}).get("status", {}).get("phase")
                    for n in names
                ]
                if all(p in ("Succeeded", "Failed") for p in phases):
                    break
                time.sleep(1.0)
            wall = time.perf_counter() - started
            operator.stop()
        handlers.reconcile = meter.inner  # type: ignore[assignment]
        failed = phases.count("Failed")
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
