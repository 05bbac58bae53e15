"""A timeline of one scenario, sampled every 250 ms from the API server: the rollout's
status, the route weights, replica counts and the stable HPA floor. Scenarios assert on
the sequence (no step skipped, never promoted, capacity held), the bench reads times."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from kubernetes import client
from kubernetes.client.rest import ApiException

from controller import GROUP, PLURAL, VERSION
from tests.e2e.harness import kube
from tests.e2e.harness.kube import TIMEOUT as T
from tests.e2e.harness.kube import Obj
from tests.e2e.harness.routing import HTTPRouteTable


@dataclass(frozen=True)
class Sample:
    at: float  # time.time()
    phase: str | None
    step: int
    weight: int  # status.canaryWeight
    failed: int
    route: dict[str, int]  # track -> weight on the HTTPRoute
    replicas: dict[str, int]  # deployment -> spec.replicas
    ready: dict[str, int]  # deployment -> readyReplicas
    updated: dict[str, int]  # deployment -> updatedReplicas (on the current template)
    pods: dict[str, int]  # deployment -> status.replicas (active pods of every template)
    hpa_min: dict[str, int]  # HPA -> minReplicas


@dataclass
class Recorder:
    api: client.ApiClient
    namespace: str
    rollout: str
    routes: HTTPRouteTable
    interval: float = 0.25
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Recorder:
        self._thread = threading.Thread(target=self._loop, name="recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.samples.append(self.sample())
            except Exception as err:  # keep sampling; a gap is visible in the timeline
                self.errors.append(repr(err))

    def sample(self) -> Sample:
        api, ns = self.api, self.namespace
        custom, apps = client.CustomObjectsApi(api), client.AppsV1Api(api)
        auto = client.AutoscalingV2Api(api)
        try:
            obj = cast(
                Obj,
                custom.get_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURAL, self.rollout, _request_timeout=T
                ),
            )
        except ApiException as err:
            if err.status != 404:
                raise
            obj = {}
        status = obj.get("status") or {}
        deployments = kube.items(api, apps.list_namespaced_deployment(ns, _request_timeout=T))
        hpas = kube.items(
            api, auto.list_namespaced_horizontal_pod_autoscaler(ns, _request_timeout=T)
        )
        return Sample(
            at=time.time(),
            phase=status.get("phase"),
            step=int(status.get("step") or 0),
            weight=int(status.get("canaryWeight") or 0),
            failed=int(status.get("failedChecks") or 0),
            route=self.routes.weights(),
            replicas={kube.name(d): _int(d, "spec", "replicas") for d in deployments},
            ready={kube.name(d): _int(d, "status", "readyReplicas") for d in deployments},
            updated={kube.name(d): _int(d, "status", "updatedReplicas") for d in deployments},
            pods={kube.name(d): _int(d, "status", "replicas") for d in deployments},
            hpa_min={kube.name(h): _int(h, "spec", "minReplicas") for h in hpas},
        )

    # ------------------------------------------------------------------ reading
    def phases(self) -> list[str]:
        """Distinct phases in the order they were seen."""
        seen: list[str] = []
        for s in self.samples:
            if s.phase and (not seen or seen[-1] != s.phase):
                seen.append(s.phase)
        return seen

    def steps(self) -> list[tuple[int, int]]:
        """Distinct (step, weight) pairs of the status, in order."""
        seen: list[tuple[int, int]] = []
        for s in self.samples:
            pair = (s.step, s.weight)
            if not seen or seen[-1] != pair:
                seen.append(pair)
        return seen

    def first(self, predicate: Callable[[Sample], bool]) -> Sample | None:
        return next((s for s in self.samples if predicate(s)), None)

    def max_canary_route_weight(self) -> int:
        return max((s.route.get("canary", 0) for s in self.samples), default=0)


def _int(obj: Obj, part: str, key: str) -> int:
    """An integer field of ``spec``/``status`` (absent on a fresh object: 0)."""
    return int((obj.get(part) or {}).get(key) or 0)
