"""The chart's NetworkPolicies are enforced on the cluster (offline profile: the
kube-network-policies agent beside the ptp CNI): a pod without the release's labels
reaches none of Redis, MLflow and the batch API, yet resolves names; a pod labelled as the
release's trainer reaches MLflow (its one allowed peer) and still not Redis; Prometheus
still scrapes every annotated pod."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.kind.cluster import Cluster, failed_targets, prometheus_query, run_pod

PROBE = """
import json, socket, time
targets = json.loads(%r)
out = {}
# the node's policy agent puts a new pod into its peers' allow sets within seconds: a
# verdict read at once would be the agent's lag, not the policy (found with kube-router)
time.sleep(15)
try:
    socket.getaddrinfo("kubernetes.default.svc.cluster.local", 443)
    out["dns"] = "ok"
except OSError as err:
    out["dns"] = "error: %%s" %% err
for name, (host, port) in targets.items():
    try:
        with socket.create_connection((host, port), timeout=4):
            out[name] = "open"
    except OSError as err:
        out[name] = "blocked: %%s" %% type(err).__name__
print(json.dumps(out))
"""


def targets(cluster: Cluster) -> dict[str, tuple[str, int]]:
    found = {}
    for name in ("redis", "mlflow", "batch-api"):
        service = cluster.json("get", "service", cluster.name_of(name))
        found[name] = (service["metadata"]["name"], int(service["spec"]["ports"][0]["port"]))
    return found


def probe(cluster: Cluster, name: str, labels: dict[str, str]) -> dict[str, str]:
    log = run_pod(cluster, name, PROBE % json.dumps(targets(cluster)), labels=labels)
    return dict(json.loads(log.strip().splitlines()[-1]))


def release_labels(cluster: Cluster, component: str) -> dict[str, str]:
    """The release's selector labels (from the trainer Job's pod template) for ``component``."""
    template = cluster.json("get", "job", cluster.name_of("trainer"))["spec"]["template"]
    labels = {
        key: value
        for key, value in template["metadata"]["labels"].items()
        if key.startswith("app.kubernetes.io/") and key not in ("app.kubernetes.io/version",)
    }
    labels["app.kubernetes.io/component"] = component
    return labels


def test_unlabelled_pod_reaches_no_backend_but_dns(cluster: Cluster) -> None:
    seen = probe(cluster, "netpol-probe-stranger", {"run": "netpol-probe"})
    assert seen["dns"] == "ok", seen
    for name in ("redis", "mlflow", "batch-api"):
        assert seen[name].startswith("blocked"), seen


def test_trainer_labelled_pod_reaches_mlflow_only(cluster: Cluster) -> None:
    seen = probe(cluster, "netpol-probe-trainer", release_labels(cluster, "trainer"))
    assert seen["dns"] == "ok", seen
    assert seen["mlflow"] == "open", seen
    assert seen["redis"].startswith("blocked"), seen


def test_prometheus_still_scrapes_every_pod(cluster: Cluster) -> None:
    deadline = time.monotonic() + 120
    result: Any = {}
    while time.monotonic() < deadline:
        result = prometheus_query(
            cluster, "monitoring", "prometheus", f'up{{namespace="{cluster.namespace}"}}'
        )
        series = result.get("data", {}).get("result", [])
        if series and not failed_targets(result):
            return
        time.sleep(10)
    raise AssertionError(f"scrapes failing or absent: {result}")
