"""Where traffic goes: the HTTPRoute's weighted backends, resolved to process addresses.

The way a Gateway implementation resolves it: HTTPRoute ``backendRefs`` (Service name +
weight, default 1) → the Service's EndpointSlices (``kubernetes.io/service-name``) →
endpoints whose ``conditions.ready`` is true → their pods → the loopback port the pod
runner recorded on each pod. A ``RequestMirror`` filter (the rollout's shadow phase)
makes its Service a backend with ``mirror`` percent and weight 0 (unless it is weighted
too): the load generator sends it a copy of that share of requests and discards the
answer, as a gateway does. A background thread refreshes the snapshot every ``refresh``
seconds; the load generator reads the latest one on every request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol, cast

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.e2e.harness import kube
from tests.e2e.harness.kube import TIMEOUT as T
from tests.e2e.harness.kube import Obj
from tests.e2e.harness.podrunner import PORT_ANNOTATION, SELECTOR

GATEWAY = ("gateway.networking.k8s.io", "v1", "httproutes")
SERVICE_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Backend:
    service: str
    track: str  # the Service's ``track`` label (stable/canary)
    weight: int
    addresses: tuple[str, ...]  # host:port of ready endpoints
    mirror: int = 0  # % of requests copied to it (RequestMirror), answers discarded


class Routes(Protocol):
    def backends(self) -> list[Backend]: ...


@dataclass
class StaticRoutes:
    """Fixed backends (tests of the load generator without a cluster)."""

    table: list[Backend]

    def backends(self) -> list[Backend]:
        return list(self.table)


def route_weights(route: dict[str, Any]) -> dict[str, int]:
    """Service name → weight, over the backendRefs of every rule (first wins)."""
    weights: dict[str, int] = {}
    for rule in route.get("spec", {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if ref.get("kind", "Service") == "Service":
                weights.setdefault(ref["name"], int(ref.get("weight", 1)))
    return weights


def route_mirrors(route: dict[str, Any]) -> dict[str, int]:
    """Service name → mirrored percent, over the RequestMirror filters of every rule
    (first wins; ``percent`` absent = 100; ``fraction`` is not read)."""
    mirrors: dict[str, int] = {}
    for rule in route.get("spec", {}).get("rules") or []:
        for item in rule.get("filters") or []:
            if item.get("type") != "RequestMirror":
                continue
            ref = (item.get("requestMirror") or {}).get("backendRef") or {}
            if ref.get("kind", "Service") == "Service" and ref.get("name"):
                mirrors.setdefault(ref["name"], int(item["requestMirror"].get("percent", 100)))
    return mirrors


def ready_pods(slices: list[Obj], service: str) -> list[str]:
    """Names of the pods behind ready endpoints of ``service``."""
    names: list[str] = []
    for item in slices:
        if kube.labels_of(item).get(SERVICE_LABEL) != service:
            continue
        for endpoint in item.get("endpoints") or []:
            ready = (endpoint.get("conditions") or {}).get("ready")
            ref = endpoint.get("targetRef") or {}
            if ready and ref.get("kind") == "Pod":
                names.append(ref["name"])
    return sorted(names)


class HTTPRouteTable:
    """The live routing of one HTTPRoute, refreshed from the API server."""

    def __init__(
        self, api: client.ApiClient, namespace: str, route: str, refresh: float = 0.25
    ) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.discovery = client.DiscoveryV1Api(api)
        self.namespace, self.route, self.refresh = namespace, route, refresh
        self.errors = 0
        self._snapshot: list[Backend] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def backends(self) -> list[Backend]:
        with self._lock:
            return list(self._snapshot)

    def weights(self) -> dict[str, int]:
        """Track → weight of the latest snapshot."""
        return {b.track: b.weight for b in self.backends()}

    def start(self) -> HTTPRouteTable:
        self.update()
        self._thread = threading.Thread(target=self._loop, name="routes", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stopping.wait(self.refresh):
            try:
                self.update()
            except Exception:  # API hiccup: keep the last snapshot, as a gateway would
                self.errors += 1

    def update(self) -> list[Backend]:
        api, ns = self.core.api_client, self.namespace
        group, version, plural = GATEWAY
        try:
            route = self.custom.get_namespaced_custom_object(
                group, version, ns, plural, self.route, _request_timeout=T
            )
        except ApiException as err:
            if err.status != 404:
                raise
            route = {}
        services = {
            kube.name(s): s
            for s in kube.items(api, self.core.list_namespaced_service(ns, _request_timeout=T))
        }
        slices = kube.items(
            api, self.discovery.list_namespaced_endpoint_slice(ns, _request_timeout=T)
        )
        pods = kube.items(
            api, self.core.list_namespaced_pod(ns, label_selector=SELECTOR, _request_timeout=T)
        )
        ports = {kube.name(p): kube.annotations_of(p).get(PORT_ANNOTATION) for p in pods}
        table = []
        weights, mirrors = route_weights(cast(Obj, route)), route_mirrors(cast(Obj, route))
        for service in [*weights, *(m for m in mirrors if m not in weights)]:
            track = kube.labels_of(services.get(service, {})).get("track", service)
            ready = ready_pods(slices, service)
            addresses = tuple(f"127.0.0.1:{ports[pod]}" for pod in ready if ports.get(pod))
            weight, mirror = weights.get(service, 0), mirrors.get(service, 0)
            table.append(Backend(service, track, weight, addresses, mirror))
        with self._lock:
            self._snapshot = table
        return table
