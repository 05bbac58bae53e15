"""One scenario's world: its namespace with the stable workload serving real traffic,
its own registered model, and handles on the rollout (status, Events, annotations)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from kubernetes import client
from kubernetes.client.rest import ApiException

from controller import ACTION_ANNOTATION, GROUP, PLURAL, VERSION
from services.core.synthetic import Drift
from tests.e2e.harness import kube, manifests
from tests.e2e.harness.applicants import ApplicantPool, applicants
from tests.e2e.harness.cluster import Cluster, operator_binding
from tests.e2e.harness.loadgen import LoadGenerator
from tests.e2e.harness.models import ScenarioModels
from tests.e2e.harness.podrunner import PodRunner
from tests.e2e.harness.prometheus import PrometheusServer
from tests.e2e.harness.recorder import Recorder
from tests.e2e.harness.routing import HTTPRouteTable
from tests.e2e.harness.waits import wait_for

Obj = dict[str, Any]
ROLLOUT = "credit-default"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


class Scenario:
    def __init__(
        self,
        cluster: Cluster,
        prometheus: PrometheusServer,
        models: ScenarioModels,
        namespace: str,
        workdir: Path,
    ) -> None:
        self.cluster, self.prometheus, self.models = cluster, prometheus, models
        self.namespace, self.workdir = namespace, workdir
        api = cluster.api
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.runner = PodRunner(
            api, namespace, models.tracking_uri, workdir / "pods", prometheus.targets
        )
        self.routes = HTTPRouteTable(api, namespace, manifests.NAME)
        self.recorder = Recorder(api, namespace, ROLLOUT, self.routes)
        self.loads: list[LoadGenerator] = []

    # ------------------------------------------------------------------ set-up
    def setup(
        self,
        replicas: int = 2,
        hpa: tuple[int, int] | None = (2, 4),
        env: dict[str, str] | None = None,
        timeout: float = 90,
    ) -> Scenario:
        ns = self.namespace
        self.cluster.cp.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.cluster.cp.apply(operator_binding(ns), namespace=ns)  # the operator may act here
        objects = [
            manifests.stable_deployment(ns, self.models.stable_uri, replicas, env),
            manifests.stable_service(ns),
            manifests.http_route(ns),
        ]
        if hpa is not None:
            objects.append(manifests.stable_hpa(ns, *hpa))
        self.cluster.cp.apply(*objects, namespace=ns)
        self.runner.start()
        self.routes.start()
        self.wait_ready(manifests.NAME, replicas, timeout)
        wait_for(
            lambda: (
                len(self.routes.backends()[0].addresses) == replicas
                if self.routes.backends()
                else False
            ),
            30,
            "stable endpoints routed",
        )
        self.recorder.start()
        return self

    def teardown(self) -> None:
        for load in self.loads:
            load.stop()
        self.recorder.stop()
        self.routes.stop()
        self.runner.stop()
        with contextlib.suppress(ApiException):
            self.core.delete_namespace(self.namespace)

    # ------------------------------------------------------------------ traffic
    def start_load(
        self, rate: float = 50.0, drift: Sequence[Drift] = (), tracks: Sequence[str] = ("*",)
    ) -> LoadGenerator:
        """Steady traffic through the route; ``drift`` applies to the given tracks."""
        pools = {"*": ApplicantPool(applicants(2000, seed=7))}
        if drift:
            drifted = ApplicantPool(applicants(2000, seed=8, drift=drift))
            pools.update(dict.fromkeys(tracks, drifted))
        load = LoadGenerator(self.routes, pools, rate=rate).start()
        self.loads.append(load)
        return load

    # ------------------------------------------------------------------ rollout
    def apply_rollout(self, candidate_uri: str | None = None, **spec: Any) -> None:
        body = manifests.model_rollout(
            self.namespace,
            ROLLOUT,
            candidate_uri or self.models.candidate_uri,
            self.prometheus.url,
            **spec,
        )
        self.cluster.cp.apply(body, namespace=self.namespace)

    def rollout(self) -> Obj:
        return cast(
            Obj,
            self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, ROLLOUT
            ),
        )

    def status(self) -> Obj:
        return dict(self.rollout().get("status") or {})

    def condition(self, kind: str) -> Obj | None:
        return next((c for c in self.status().get("conditions") or [] if c["type"] == kind), None)

    def wait_status(self, predicate: Callable[[Obj], bool], timeout: float, what: str) -> Obj:
        return wait_for(
            lambda: (lambda s: s if predicate(s) else None)(self.status()),
            timeout,
            what,
            interval=0.25,
            describe=self.describe,
        )

    def wait_phase(self, *phases: str, timeout: float) -> Obj:
        return self.wait_status(lambda s: s.get("phase") in phases, timeout, f"phase in {phases}")

    def annotate(self, action: str) -> None:
        body = {"metadata": {"annotations": {ACTION_ANNOTATION: action}}}
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, ROLLOUT, body, _content_type=MERGE
        )

    def events(self) -> list[Obj]:
        """Events about the rollout, oldest first."""
        listed = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={ROLLOUT}"
        )
        found = kube.items(self.cluster.api, listed)
        return sorted(
            found,
            key=lambda e: str(
                e.get("lastTimestamp") or e.get("eventTime") or e["metadata"]["creationTimestamp"]
            ),
        )

    def event_reasons(self) -> list[str]:
        return [e["reason"] for e in self.events()]

    # ------------------------------------------------------------------ workloads
    def deployment(self, name: str) -> Obj | None:
        try:
            return kube.plain(
                self.cluster.api, self.apps.read_namespaced_deployment(name, self.namespace)
            )
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def wait_ready(self, name: str, replicas: int, timeout: float) -> None:
        def ready() -> bool:
            d = self.deployment(name)
            return d is not None and (d["status"].get("readyReplicas") or 0) >= replicas

        wait_for(ready, timeout, f"{replicas} ready replicas of {name}", describe=self.describe)

    def set_env(self, deployment: str, env: dict[str, str]) -> float:
        """Add env to a Deployment's first container (``kubectl set env``); returns when."""
        d = self.deployment(deployment)
        assert d is not None, f"no Deployment {deployment}"
        container = d["spec"]["template"]["spec"]["containers"][0]["name"]
        entries = [{"name": k, "value": v} for k, v in env.items()]
        body = {
            "spec": {"template": {"spec": {"containers": [{"name": container, "env": entries}]}}}
        }
        self.apps.patch_namespaced_deployment(
            deployment, self.namespace, body, _content_type=STRATEGIC
        )
        return time.time()

    def describe(self) -> str:
        """State worth seeing when a wait fails."""
        try:
            status = self.status()
        except ApiException as err:
            status = {"error": err.status}
        lines = [
            f"status: phase={status.get('phase')} step={status.get('step')} "
            f"weight={status.get('canaryWeight')} failed={status.get('failedChecks')} "
            f"message={status.get('message')!r}",
            f"last analysis: {status.get('lastAnalysis')}",
            f"route: {self.routes.backends()}",
            f"runner: {self.runner.ports()} errors={self.runner.errors[-5:]}",
            f"recorder errors: {self.recorder.errors[-3:]}",
        ]
        with contextlib.suppress(ApiException):
            lines.append(f"events: {self.event_reasons()}")
        return "\n".join(lines)
