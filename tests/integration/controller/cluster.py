"""Helpers for the operator tests against a real kube-apiserver: the stable "world" a
ModelRollout acts on, a fake kubelet that reports Deployment readiness, and the operator
itself (kopf) in a thread under the controller's ServiceAccount."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import kopf

from controller.handlers import register
from controller.kube import DEPLOYMENTS, Kube
from controller.runtime import Runtime

NS = "credit-risk"
Obj = dict[str, Any]


def stable_world(name: str, model_uri: str, replicas: int = 4) -> list[Obj]:
    """Deployment + Service + HPA + HTTPRoute of a stable inference workload ``name``."""
    labels = {"app": name, "track": "stable"}
    container = {
        "name": "inference",
        "image": "creditrisk/inference:test",
        "ports": [{"name": "http", "containerPort": 8000}],
        "env": [{"name": "MODEL_URI", "value": model_uri}, {"name": "TRACK", "value": "stable"}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": labels,
            "ports": [{"name": "http", "port": 8000, "targetPort": "http"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 10,
        },
    }
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                    "backendRefs": [{"name": name, "port": 8000, "weight": 100}],
                }
            ],
        },
    }
    return [deployment, service, hpa, route]


def rollout(name: str, target: str, uri: str, **spec: Any) -> Obj:
    body: Obj = {"targetRef": {"name": target}, "model": {"uri": uri}}
    body.update(spec)
    return {
        "apiVersion": "mlops.creditrisk.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": body,
    }


class FakeKubelet:
    """Plays Deployment controller + kubelet: reports every Deployment of the namespace as
    rolled out (after ``delay`` seconds per new generation), except those in ``broken``."""

    def __init__(self, kube: Kube, delay: float = 0.0, period: float = 0.1) -> None:
        self.kube, self.delay, self.period = kube, delay, period
        self.broken: set[str] = set()
        self.delays: dict[str, float] = {}
        self._seen: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> FakeKubelet:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _status(self, item: Obj) -> Obj:
        name, gen = item["metadata"]["name"], item["metadata"]["generation"]
        replicas = int(item["spec"].get("replicas", 1))
        first = self._seen.setdefault((name, gen), time.monotonic())
        done = time.monotonic() - first >= self.delays.get(name, self.delay)
        ready = 0 if name in self.broken or not done else replicas
        return {
            "observedGeneration": gen,
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "updatedReplicas": replicas if done else 0,
        }

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                for item in self.kube.list(DEPLOYMENTS, NS):
                    status = self._status(item)
                    current = item.get("status") or {}
                    if any(current.get(k, 0) != v for k, v in status.items()):
                        self.kube.patch(
                            DEPLOYMENTS,
                            NS,
                            item["metadata"]["name"],
                            {"status": status},
                            sub="status",
                        )
            except Exception as exc:  # a deleted object mid-loop; try again
                print(f"[kubelet] {exc}")


class Operator:
    """The kopf operator in its own thread and event loop, stoppable and restartable."""

    def __init__(self, runtime: Runtime, namespaces: tuple[str, ...] = (NS,)) -> None:
        self.runtime, self.namespaces = runtime, namespaces
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Operator:
        registry = register(kopf.OperatorRegistry(), self.runtime.settings)
        self._stop, ready = threading.Event(), threading.Event()

        def run() -> None:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    memo=kopf.Memo(runtime=self.runtime),
                    standalone=True,
                    namespaces=self.namespaces,
                    stop_flag=self._stop,
                    ready_flag=ready,
                )
            )

        self._thread = threading.Thread(target=run, name="operator", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise TimeoutError("operator not ready after 30 s")
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join(30)
            self._stop = self._thread = None
