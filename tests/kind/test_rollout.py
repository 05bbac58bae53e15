"""The rollout loop on real kubelets while the cluster misbehaves, checked from the outside,
with scoring traffic through the gateway the whole time (one promotion and one rollback:
the two candidates are trained by Jobs started with the session, conftest.Candidates):

- load through the gateway raises the stable inference Deployment's replicas (the HPA on
  real CPU read by metrics-server);
- the good candidate is rolled out by a ModelRollout under that load; mid-analysis its
  canary container is stopped through the node's containerd and the real kubelet restarts
  it; once the rollout is Promoting, the operator pod is deleted (its Deployment recreates
  it): the rollout still ends Succeeded exactly once (one Promoting and one Promoted
  Event, one new stable ReplicaSet), the stable Deployment never drops below the replicas
  the HPA had when the rollout began, and the stable serves the new version;
- the faulty candidate (drifted training data) is then rolled out on the same
  ModelRollout and rolled back with its reason (failed PSI checks); the stable still
  serves the promoted version;
- no request through the gateway fails outside the window the killed canary was down.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.kind.cluster import Cluster, port_forward
from tests.kind.conftest import Candidates
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
    rollback_reason,
    rollout_status,
    stop_container_on_node,
    wait_for,
)

# load that lifts the stable HPA over its CPU target on the one kind node; under the
# chart's per-key rate limit of the kind values (scripts/kind/values-kind.yaml)
LOAD_WORKERS = int(os.environ.get("KIND_LOAD_WORKERS", "4"))
LOAD_RPS = float(os.environ.get("KIND_LOAD_RPS", "6"))
ENDED = ("Succeeded", "Failed")
LATENCY_P99_MAX = os.environ.get("KIND_LATENCY_P99_MAX", "2s")
PSI_MAX = float(os.environ.get("KIND_PSI_MAX", "0.5"))


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
            # Gates for a shared 2-core node and the scenario's synthetic traffic: p99 here
            # reached 0.35-0.63 s at load 25-28 right after the canary's restart (the default
            # 250 ms rolled back the good candidate on latency alone, 2026-12-05), and the
            # good candidate's feature PSI against this traffic sits at 0.13-0.22, around
            # the default 0.2. The faulty candidate's PSI is ~2 (featurePSI 2.27, scorePSI
            # 1.63 on kind): 0.5 still rolls it back with a PSI reason, which is what the
            # scenario checks; latency gates are covered by the local harness.
            "analysis": {
                "minRequests": 20,
                "gates": {
                    "latencyP99": {"max": LATENCY_P99_MAX},
                    "featurePSI": {"max": PSI_MAX},
                    "scorePSI": {"max": PSI_MAX},
                },
            },
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


def test_promotion_under_chaos_then_faulty_rolled_back(
    cluster: Cluster, candidates: Candidates
) -> None:
    inference = cluster.name_of("inference")
    name = cluster.name_of("e2e")
    key = api_key(cluster)
    hpa = cluster.json("get", "hpa", inference)
    minimum = int(hpa["spec"]["minReplicas"])
    timings: dict[str, float] = {}
    with port_forward(cluster, GATEWAY_NS, GATEWAY_SVC, 80) as url:
        first = wait_for("the champion through the gateway", lambda: _served(url, key), 120)
        traffic = Traffic(url, key, rps=LOAD_RPS, workers=LOAD_WORKERS).start()
        crash = [0.0, 0.0]
        try:
            # (1) load through the gateway raises the stable Deployment's replicas
            started = time.monotonic()
            raised = wait_for(
                "the stable HPA to scale up under load",
                lambda: _scaled(cluster, inference, minimum),
                timeout=600,
                every=5,
            )
            timings["hpa_scale_up_s"] = time.monotonic() - started
            good = candidates.good()
            timings["good_trained_s"] = time.monotonic() - started
            current = cluster.json("get", "hpa", inference)["status"]["currentReplicas"]
            floor = max(int(current), raised)
            since = stamp()
            with Sampler(cluster) as sampler:
                apply(cluster, rollout(cluster, good))
                started = time.monotonic()
                # (2) canary container stopped mid-analysis: the kubelet restarts it
                canary = wait_for(
                    "a ready canary pod taking traffic",
                    lambda: _ready_canary(cluster, name, inference),
                    timeout=600,
                )
                before = restarts(canary)
                crash[0] = time.time()
                stop_container_on_node(cluster, canary)
                pod = canary["metadata"]["name"]
                wait_for(
                    f"the kubelet to restart canary {pod}",
                    lambda: _restarted(cluster, pod, before),
                    timeout=300,
                )
                crash[1] = time.time()
                timings["canary_restart_s"] = crash[1] - crash[0]
                # (3) operator pod deleted mid-promotion
                phase = wait_for(
                    "phase Promoting",
                    lambda: _phase_in(cluster, name, ("Promoting", *ENDED)),
                    timeout=900,
                    every=0.5,
                )
                assert phase == "Promoting", f"rollout ended {phase} before its promotion"
                operator = pods_of(cluster, cluster.name_of("controller"))
                assert len(operator) == 1, [p["metadata"]["name"] for p in operator]
                cluster.kubectl("delete", "pod", operator[0]["metadata"]["name"], "--wait=false")
                final = wait_for(
                    "the promotion to end", lambda: _phase_in(cluster, name, ENDED), 900, every=3
                )
                timings["promotion_s"] = time.monotonic() - started
            assert final == "Succeeded", rollout_status(cluster, name)
            wait_for(f"stable to serve v{good}", lambda: _served(url, key) == str(good), 180)
            said = promotions(events(cluster), name, since)
            assert (said["Promoting"], said["Promoted"]) == (1, 1), dict(said)
            new_sets = [
                rs["metadata"]["name"]
                for rs in cluster.json("get", "replicasets")["items"]
                if rs["metadata"]["creationTimestamp"] >= since
                and any(
                    o.get("name") == inference for o in rs["metadata"].get("ownerReferences", [])
                )
            ]
            assert len(new_sets) == 1, new_sets
            promoting = [
                (s["t"], min(s["replicas"], s["available"]), floor)
                for s in sampler.samples
                if s["phase"] in ("Promoting", "Succeeded")
            ]
            assert promoting, sampler.samples
            assert capacity_drops(promoting) == [], sampler.samples
            # (4) the faulty candidate on the same ModelRollout: rolled back with its reason
            faulty = candidates.faulty()
            apply(cluster, rollout(cluster, faulty))
            started = time.monotonic()
            wait_for(
                f"the rollout to take v{faulty} (leave Succeeded)",
                lambda: rollout_status(cluster, name).get("phase") != "Succeeded",
                timeout=300,
                every=1,
            )
            final = wait_for(
                "the rollback to end", lambda: _phase_in(cluster, name, ENDED), 900, every=3
            )
            timings["rollback_s"] = time.monotonic() - started
            status = rollout_status(cluster, name)
            assert final == "Failed", status
            reason, message = rollback_reason(status)
            assert reason == "FailedChecks", status
            assert "failed check" in message, status
            assert "PSI" in message, status
            assert _served(url, key) == str(good), "stable does not serve the promoted version"
        finally:
            summary = traffic.stop()
    print(f"rollout: v{first} -> v{good} promoted, v{faulty} rolled back ({message})")
    print(f"raised to {raised}, floor {floor}, {timings}, traffic {summary}")
    # requests in flight to the canary when its container was killed may fail (the
    # gateway had not yet seen it unready); none may fail outside that window
    in_crash, outside = crash_share(traffic.failures, crash[0], crash[1])
    print(f"failed requests: {len(in_crash)} while the canary was down, {len(outside)} outside")
    assert outside == [], (summary, outside[:20])


def _phase_in(cluster: Cluster, name: str, phases: tuple[str, ...]) -> str | None:
    phase = rollout_status(cluster, name).get("phase")
    return str(phase) if phase in phases else None


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
    try:
        info = httpx.get(f"{url}/api/v1/model/info", headers={"X-API-Key": key}, timeout=10)
    except httpx.HTTPError:
        return None
    if info.status_code != 200:
        return None
    return str(info.json().get("model", {}).get("version"))
