"""Attack: move laterally inside the cluster, or out of it, from a compromised pod of the
release (an inference pod is Internet-facing; a batch worker runs what the queue says), and
from a foreign pod in another namespace.

The chart's rendered NetworkPolicies are evaluated with the Kubernetes semantics
(tests/security/netpol.py) for every (source, destination, port) pair."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.deploy.chart import ALL_FEATURES, template_text
from tests.security.netpol import Manifest, Pod, allowed, egress_covered, release_pods

pytestmark = pytest.mark.integration

NS = "credit-risk"
EVIL = Pod("evil", "tenant-x", {"app": "whatever"})
PROMETHEUS = Pod("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
DNS = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"})
SERVERS = {"inference": 8080, "batch-api": 8080, "redis": 6379, "mlflow": 5000}


def _render(*extra: str, values: Path | None = None) -> list[Manifest]:
    text = template_text(*([values] if values else []), namespace=NS, extra=extra)
    return [d for d in yaml.safe_load_all(text) if d]


def _policies(docs: list[Manifest]) -> list[Manifest]:
    return [d for d in docs if d["kind"] == "NetworkPolicy"]


def reachable(docs: list[Manifest], src: Pod) -> set[str]:
    """Servers of the release (and an outsider's listener) src may connect to."""
    pods, policies = release_pods(docs), _policies(docs)
    found = {
        name
        for name, port in SERVERS.items()
        if name in pods and pods[name] != src and allowed(policies, src, pods[name], port)
    }
    outsider = Pod("exfil", "internet", {})
    if any(allowed(policies, src, outsider, port) for port in (80, 5000, 6379, 8080)):
        found.add("outside")
    return found


@pytest.mark.parametrize("values", [None, ALL_FEATURES], ids=["default", "all-features"])
def test_every_pod_has_an_egress_policy(values: Path | None) -> None:
    docs = _render(values=values)
    pods = release_pods(docs)
    assert {"inference", "batch-api", "batch-worker", "redis", "mlflow", "controller"} <= set(pods)
    uncovered = [c for c, pod in pods.items() if not egress_covered(_policies(docs), pod)]
    assert uncovered == [], f"pods with open egress: {uncovered}"


def test_each_component_reaches_only_its_peers() -> None:
    docs = _render()
    pods = release_pods(docs)
    got = {c: reachable(docs, pod) for c, pod in pods.items()}
    assert got == {
        "inference": {"mlflow", "redis"},  # redis: the shared rate limiter
        "batch-api": {"redis", "mlflow"},
        "batch-worker": {"redis", "mlflow"},
        "controller": {"mlflow"},  # + the kube-apiserver and Prometheus below
        "trainer": {"mlflow"},
        "redis": set(),
        "mlflow": set(),
        "test": {"inference", "batch-api", "mlflow"},
    }
    policies = _policies(docs)
    for component, pod in pods.items():  # Redis resolves nothing: no egress at all
        assert allowed(policies, pod, DNS, 53) == (component != "redis"), component
    assert allowed(policies, pods["controller"], PROMETHEUS, 9090)
    assert allowed(policies, pods["controller"], Pod("apiserver", "default", {}), 6443)
    assert not allowed(policies, pods["inference"], PROMETHEUS, 9090)
    # MLflow (the model registry) only from the release's own pods
    assert not allowed(policies, EVIL, pods["mlflow"], 5000)
    assert not allowed(policies, PROMETHEUS, pods["mlflow"], 5000)


def test_redis_admits_only_the_queue_and_the_limiter() -> None:
    for extra, clients in (
        ((), {"inference", "batch-api", "batch-worker"}),
        (("--set", "inference.rateLimit="), {"batch-api", "batch-worker"}),
    ):
        docs = _render(*extra)
        pods, policies = release_pods(docs), _policies(docs)
        got = {c for c, pod in pods.items() if allowed(policies, pod, pods["redis"], 6379)}
        assert got == clients, extra
        assert not allowed(policies, EVIL, pods["redis"], 6379)


def test_prometheus_scrapes_without_opening_the_apis() -> None:
    """allowExternal=false: only the release, apiFrom and metricsFrom reach the API ports."""
    docs = _render("--set", "networkPolicy.allowExternal=false")
    pods, policies = release_pods(docs), _policies(docs)
    for component in ("inference", "batch-api"):
        assert allowed(policies, PROMETHEUS, pods[component], 8080), component
        assert not allowed(policies, EVIL, pods[component], 8080), component
    assert allowed(policies, PROMETHEUS, pods["batch-worker"], 9100)
    assert not allowed(policies, EVIL, pods["batch-worker"], 9100)
    assert not allowed(policies, EVIL, pods["controller"], 8080)
