"""The inference HPA acts on real CPU: metrics-server (from its Go module) reads the
kubelets, and the HPA shows a CPU utilisation instead of ``<unknown>``."""

from __future__ import annotations

import time

from tests.kind.cluster import (
    Cluster,
    containers_without_cpu_request,
    hpa_condition,
    hpa_cpu_utilization,
)


def test_metrics_api_serves_pod_cpu(cluster: Cluster) -> None:
    deadline = time.monotonic() + 180
    last = ""
    while time.monotonic() < deadline:
        try:
            last = cluster.kubectl("top", "pods", "--no-headers")
            if last.strip():
                return
        except AssertionError as err:
            last = str(err)
        time.sleep(10)
    raise AssertionError(f"metrics API serves no pod metrics: {last}")


def test_inference_pods_request_cpu(cluster: Cluster) -> None:
    pods = cluster.json("get", "pods", "-l", "app.kubernetes.io/component=inference")["items"]
    assert pods
    for pod in pods:
        assert containers_without_cpu_request(pod) == [], pod["metadata"]["name"]


def test_hpa_reads_cpu(cluster: Cluster) -> None:
    name = cluster.name_of("inference")
    deadline = time.monotonic() + 300
    hpa: dict[str, object] = {}
    while time.monotonic() < deadline:
        hpa = cluster.json("get", "hpa", name)
        if hpa_cpu_utilization(hpa) is not None:
            break
        time.sleep(10)
    assert hpa_cpu_utilization(hpa) is not None, (
        f"HPA {name} reads no CPU: {hpa_condition(hpa, 'ScalingActive')}, "
        f"{cluster.kubectl('get', 'hpa', name)}"
    )
    printed = cluster.kubectl("get", "hpa", name)
    assert "<unknown>" not in printed, printed
