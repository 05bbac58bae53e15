"""The pod runner, routing and Prometheus against the real control plane (no operator):
Deployments produce pods, pods get real inference processes, traffic flows, readiness is
the process's, scale-down drains without a failed request, a crashed process restarts."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from tests.e2e.harness import kube
from tests.e2e.harness.kube import Obj
from tests.e2e.harness.manifests import NAME
from tests.e2e.harness.podrunner import PORT_ANNOTATION
from tests.e2e.harness.scenario import Scenario
from tests.e2e.harness.waits import wait_for

pytestmark = pytest.mark.integration


def _pods(s: Scenario) -> list[Obj]:
    return kube.items(s.cluster.api, s.core.list_namespaced_pod(s.namespace))


def _pod(s: Scenario, name: str) -> Obj:
    return kube.plain(s.cluster.api, s.core.read_namespaced_pod(name, s.namespace))


def _conditions(pod: Obj) -> dict[str, str]:
    return {c["type"]: c["status"] for c in pod["status"].get("conditions") or []}


def test_pods_serve_real_processes_and_drain_on_scale_down(
    make_scenario: Callable[..., Scenario],
) -> None:
    s = make_scenario(replicas=2, hpa=None)
    pods = _pods(s)
    assert len(pods) == 2
    ports = s.runner.ports()
    for pod in pods:
        assert kube.annotations_of(pod)[PORT_ANNOTATION] == str(ports[kube.name(pod)])
        ready = _conditions(pod)
        assert ready["Ready"] == ready["ContainersReady"] == "True"

    prom = s.prometheus
    up = f'up{{namespace="{s.namespace}",track="stable"}}'
    wait_for(
        lambda: len(prom.query(up)) == 2 and all(r["value"][1] == "1" for r in prom.query(up)),
        30,
        "both pods scraped",
    )

    load = s.start_load(rate=30)
    wait_for(lambda: load.stats.sent() >= 90, 30, "90 requests")
    s.apps.patch_namespaced_deployment_scale(
        NAME, s.namespace, {"spec": {"replicas": 1}}, _content_type="application/merge-patch+json"
    )
    wait_for(lambda: len(s.runner.ports()) == 1, 30, "one process left")
    sent = load.stats.sent()
    wait_for(lambda: load.stats.sent() >= sent + 60, 30, "60 more requests")
    stats = load.stop()
    assert stats.failures == [], stats.reasons()
    assert stats.counts()["stable"].ok >= 150

    query = f'sum(http_requests_total{{namespace="{s.namespace}",route="/api/v1/predict"}})'
    wait_for(lambda: (prom.value(query) or 0) > 0, 20, "requests visible in Prometheus")
    wait_for(lambda: len(prom.query(up)) == 1, 30, "the removed pod's target dropped")


def test_crashed_process_is_restarted_and_readiness_follows(
    make_scenario: Callable[..., Scenario],
) -> None:
    s = make_scenario(replicas=1, hpa=None)
    (name,) = s.runner.ports()
    proc = next(iter(s.runner.procs.values()))
    assert proc.popen is not None
    os.killpg(proc.popen.pid, signal.SIGKILL)

    def ready(status: str) -> bool:
        return _conditions(_pod(s, name)).get("Ready") == status

    wait_for(lambda: ready("False"), 15, "pod not ready after the crash")
    wait_for(lambda: ready("True"), 60, "pod ready again after the restart")
    assert _pod(s, name)["status"]["containerStatuses"][0]["restartCount"] == 1
