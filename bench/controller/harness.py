"""What both controller benchmarks share: the cluster objects the operator needs, the two
model versions a rollout moves between, and the reconcile meter.

``bench_controller.py`` (fake metrics, one N) and ``bench_scale.py`` (real Prometheus,
N = 50/250/1000) build on these; neither changes what the controller does.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import controller.handlers as handlers
from controller.kube import ROLLOUTS, Kube
from tests.integration.controller.cluster import NS
from tests.support.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[2]
MODEL = "bench-model"


class Meter:
    """Replaces ``controller.handlers.reconcile`` (what every kopf handler calls) to time
    each call: wall time, thread CPU time and the phase it decided (``error`` when it
    raised). ``install``/``uninstall`` swap it in and out."""

    def __init__(self, clock: Any = None) -> None:
        self.clock = clock  # a ``clock.PhaseClock`` (optional): the wall time by phase
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.phases: list[str] = []
        self.inner = handlers.reconcile
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        phase = "error"
        if self.clock is not None:
            self.clock.start()
        try:
            decision = self.inner(*args, **kwargs)
            phase = str(decision.status.phase.value) if decision is not None else "gone"
            return decision
        finally:
            if self.clock is not None:
                self.clock.finish()
            with self._lock:
                self.cpu.append(time.thread_time() - cpu)
                self.wall.append(time.perf_counter() - wall)
                self.phases.append(phase)

    def install(self) -> Meter:
        handlers.reconcile = self  # type: ignore[assignment]
        return self

    def uninstall(self) -> None:
        handlers.reconcile = self.inner  # type: ignore[assignment]


def prepare_cluster(cp: ControlPlane) -> Kube:
    """CRDs (ModelRollout, Gateway API), the namespace and the controller's RBAC; returns
    an admin ``Kube`` for the benchmark's own writes."""
    cp.apply(cp.crd_dir("gateway-api"), ROOT / "k8s" / "crd" / "modelrollouts.yaml")
    cp.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    cp.apply(ROOT / "k8s" / "rbac")
    return Kube(cp.client(), "bench")


def models(folder: Path, candidates: int = 1) -> tuple[str, list[str]]:
    """A tracking store in ``folder`` with ``bench-model`` v1 (stable) and ``candidates``
    more versions of the same run (the candidates; registering one is a few ms, they share
    the run's artifacts and contract); returns (tracking URI, candidate versions)."""
    from services.core.registry import client
    from tests.support.models import tracking_uri_for, train_quick

    uri = tracking_uri_for(folder)
    trained = train_quick(uri, "default", model_name=MODEL)
    mlflow_client = client(uri)
    first = mlflow_client.get_model_version(MODEL, trained.summary.version)
    made = [
        mlflow_client.create_model_version(MODEL, str(first.source), first.run_id)
        for _ in range(max(1, candidates))
    ]
    return uri, [str(version.version) for version in made]


def phases(kube: Kube, names: list[str]) -> list[str | None]:
    """The phase of each named ModelRollout (``None``: no status yet or gone)."""
    found = {
        item["metadata"]["name"]: (item.get("status") or {}).get("phase")
        for item in kube.request("GET", ROLLOUTS.path(NS)).get("items", [])
    }
    return [found.get(name) for name in names]
