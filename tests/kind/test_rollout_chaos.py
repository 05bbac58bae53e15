"""A rollout that must survive the cluster misbehaving, on real kubelets, checked from the
outside (runs after test_rollout.py, whose ModelRollout it reuses for a new candidate):

- load through the gateway raises the stable inference Deployment's replicas (the HPA on
  real CPU read by metrics-server);
- a new candidate is rolled out under that load; mid-analysis its canary container is
  stopped through the node's containerd and the real kubelet restarts it;
- once the rollout is Promoting, the operator pod is deleted (its Deployment recreates
  it): the rollout still ends Succeeded exactly once (one Promoting and one Promoted
  Event, one new stable ReplicaSet), the stable Deployment never drops below the replicas
  the HPA had when the rollout began, and no request through the gateway fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.kind.cluster import REPO_ROOT, Cluster, port_forward
from tests.kind.outside import (
    GATEWAY_NS,
    GATEWAY_SVC,
    Traffic,
    api_key,
    apply,
    capacity_drops,
    crash_share,
    events,
    pods_of,
    promotions,
    ready,
    restarts,
    rollout_status,
    stop_container_on_node,
    wait_for,
)

# load that lifts the stable HPA over its CPU target on the one kind node; under the
# chart's per-key rate limit of the kind values (scripts/kind/values-kind.yaml)
LOAD_WORKERS = int(os.environ.get("KIND_LOAD_WORKERS", "4"))
LOAD_RPS = float(os.environ.get("KIND_LOAD_RPS", "6"))


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def train(cluster: Cluster, name: str) -> int:
    """A training Job like the chart's (scripts/kind/job_copy.py); the version it
    registered, counted as the trainer Jobs that succeeded (one version each)."""
    job = cluster.kubectl("get", "job", cluster.name_of("trainer"), "-o", "json")
    copy = subprocess.run(
        ["python3", str(REPO_ROOT / "scripts" / "kind" / "job_copy.py"), name],
        input=job,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    apply(cluster, json.loads(copy))
    cluster.kubectl(
        "wait", "--for=condition=complete", f"job/{name}", "--timeout=20m", timeout=1260
    )
    jobs = cluster.json("get", "jobs", "-l", "app.kubernetes.io/component=trainer")["items"]
    return sum(1 for j in jobs if j.get("status", {}).get("succeeded", 0) >= 1)


def rollout(cluster: Cluster, version: int) -> dict[str, Any]:
    inference = cluster.name_of("inference")
    prometheus = os.environ.get("PROMETHEUS_URL", "http://prometheus.monitoring:9090")
    return {
        "apiVersion": "mlops.creditrisk.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": cluster.name_of("e2e"), "namespace": cluster.namespace},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": inference},
            "model": {"uri": f"models:/credit-default/{version}"},
            "canary": {
                "steps": [20, 50],
                "interval": "30s",
                "failureThreshold": 2,
                "progressDeadline": "10m",
            },
            "analysis": {"minRequests": 20},
            "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
            "router": {"httpRoute": {"name": inference}},
            "prometheus": {"address": prometheus, "selector": {"namespace": cluster.namespace}},
        },
    }


class Sampler:
    """Every ``every`` seconds: the rollout's phase, the stable Deployment's replicas and
    available replicas, and the stable HPA's current replicas."""

    def __init__(self, cluster: Cluster, every: float = 2.0) -> None:
        self.cluster = cluster
        self.every = every
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        c = self.cluster
        inference = c.name_of("inference")
        while not self._stop.is_set():
            try:
                dep = c.json("get", "deployment", inference)
                hpa = c.json("get", "hpa", inference)
                phase = rollout_status(c, c.name_of("e2e")).get("phase", "")
                self.samples.append(
                    {
                        "t": time.time(),
                        "phase": phase,
                        "replicas": int(dep["spec"].get("replicas", 0)),
                        "available": int(dep.get("status", {}).get("availableReplicas", 0)),
                        "hpa": int(hpa.get("status", {}).get("currentReplicas", 0)),
                        "hpa_min": int(hpa["spec"].get("minReplicas", 1)),
                    }
                )
            except (AssertionError, subprocess.TimeoutExpired, KeyError, ValueError):
                pass
            self._stop.wait(self.every)


def test_promotion_survives_canary_crash_and_operator_restart_under_load(
    cluster: Cluster,
) -> None:
    inference = cluster.name_of("inference")
    name = cluster.name_of("e2e")
    key = api_key(cluster)
    version = train(cluster, cluster.name_of(f"train-chaos-{int(time.time())}"))
    hpa = cluster.json("get", "hpa", inference)
    minimum = int(hpa["spec"]["minReplicas"])
    timings: dict[str, float] = {}
    with port_forward(cluster, GATEWAY_NS, GATEWAY_SVC, 80) as url:
        traffic = Traffic(url, key, rps=LOAD_RPS, workers=LOAD_WORKERS).start()
        try:
            # (c) load through the gateway raises the stable Deployment's replicas
            started = time.monotonic()
            raised = wait_for(
                "the stable HPA to scale up under load",
                lambda: _scaled(cluster, inference, minimum),
                timeout=600,
                every=5,
            )
            timings["hpa_scale_up_s"] = time.monotonic() - started
            current = cluster.json("get", "hpa", inference)["status"]["currentReplicas"]
            floor = max(int(current), raised)
            since = stamp()
            with Sampler(cluster) as sampler:
                apply(cluster, rollout(cluster, version))
                started = time.monotonic()
                # (a) canary container stopped mid-analysis: the kubelet restarts it
                canary = wait_for(
                    "a ready canary pod taking traffic",
                    lambda: _ready_canary(cluster, name, inference),
                    timeout=600,
                )
                before = restarts(canary)
                crash = [time.time(), 0.0]
                stop_container_on_node(cluster, canary)
                pod = canary["metadata"]["name"]
                wait_for(
                    f"the kubelet to restart canary {pod}",
                    lambda: _restarted(cluster, pod, before),
                    timeout=300,
                )
                crash[1] = time.time()
                timings["canary_restart_s"] = crash[1] - crash[0]
                # (b) operator pod deleted mid-promotion
                wait_for(
                    "phase Promoting",
                    lambda: (
                        rollout_status(cluster, name).get("phase") == "Promoting"
                        or rollout_status(cluster, name).get("phase") in ("Succeeded", "Failed")
                    ),
                    timeout=900,
                    every=0.5,
                )
                phase = rollout_status(cluster, name).get("phase")
                assert phase == "Promoting", f"rollout ended {phase} before its promotion"
                operator = pods_of(cluster, cluster.name_of("controller"))
                assert len(operator) == 1, [p["metadata"]["name"] for p in operator]
                cluster.kubectl("delete", "pod", operator[0]["metadata"]["name"], "--wait=false")
                final = wait_for(
                    "the rollout to end",
                    lambda: (
                        rollout_status(cluster, name).get("phase")
                        if rollout_status(cluster, name).get("phase") in ("Succeeded", "Failed")
                        else None
                    ),
                    timeout=900,
                    every=3,
                )
                timings["rollout_s"] = time.monotonic() - started
            assert final == "Succeeded", rollout_status(cluster, name)
            served = wait_for(
                f"stable to serve v{version}",
                lambda: _served(url, key) == str(version),
                timeout=180,
            )
            assert served
        finally:
            summary = traffic.stop()
    print(f"chaos rollout: raised to {raised}, floor {floor}, {timings}, traffic {summary}")
    said = promotions(events(cluster), name, since)
    assert (said["Promoting"], said["Promoted"]) == (1, 1), dict(said)
    new_sets = [
        rs["metadata"]["name"]
        for rs in cluster.json("get", "replicasets")["items"]
        if rs["metadata"]["creationTimestamp"] >= since
        and any(o.get("name") == inference for o in rs["metadata"].get("ownerReferences", []))
    ]
    assert len(new_sets) == 1, new_sets
    promoting = [
        (s["t"], min(s["replicas"], s["available"]), floor)
        for s in sampler.samples
        if s["phase"] in ("Promoting", "Succeeded")
    ]
    assert promoting, sampler.samples
    assert capacity_drops(promoting) == [], sampler.samples
    # requests in flight to the canary when its container was killed may fail (the
    # gateway had not yet seen it unready); none may fail outside that window
    in_crash, outside = crash_share(traffic.failures, crash[0], crash[1])
    print(f"failed requests: {len(in_crash)} while the canary was down, {len(outside)} outside")
    assert outside == [], (summary, outside[:20])


def _scaled(cluster: Cluster, inference: str, minimum: int) -> int | None:
    dep = cluster.json("get", "deployment", inference)
    replicas = int(dep["spec"].get("replicas", 0))
    available = int(dep.get("status", {}).get("availableReplicas", 0))
    return replicas if replicas > minimum and available >= replicas else None


def _ready_canary(cluster: Cluster, name: str, inference: str) -> dict[str, Any] | None:
    status = rollout_status(cluster, name)
    if status.get("phase") != "Progressing" or int(status.get("canaryWeight", 0)) <= 0:
        return None
    try:
        pods = pods_of(cluster, f"{inference}-canary")
    except AssertionError:
        return None
    return next((p for p in pods if ready(p) and not p["metadata"].get("deletionTimestamp")), None)


def _restarted(cluster: Cluster, pod: str, before: int) -> bool:
    found = cluster.json("get", "pod", pod)
    return restarts(found) > before and ready(found)


def _served(url: str, key: str) -> str | None:
    info = httpx.get(f"{url}/api/v1/model/info", headers={"X-API-Key": key}, timeout=10)
    if info.status_code != 200:
        return None
    return str(info.json().get("model", {}).get("version"))
