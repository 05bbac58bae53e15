"""The rollout part of `make demo`: v2 shadowed then promoted, a faulty v3 rolled back, on
one machine.

The cluster is the one the e2e suite uses (``tests/e2e/harness``):

- real: etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built from the
  Kubernetes Go modules by `make controlplane`), the operator (`python -m controller`
  under the RBAC of `k8s/rbac/`), Prometheus scraping every pod each second, one
  `python -m services.inference` process per Running pod, the MLflow store;
- simulated: the nodes and the kubelet (kwok marks pods Running; the pod runner starts the
  real process and reports its `/readyz` as the pod's readiness), the gateway (a load
  generator sends 50 req/s and splits them by the HTTPRoute's weights, and copies the
  share a RequestMirror filter names to the canary during v2's shadow phase, discarding
  the answers, as a Gateway API implementation would), and v3's defect (its pods get
  `INFERENCE_FAULT_ERROR_RATE`, the service's own fault injection, standing in for a
  release that fails requests).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.harness.cluster import Cluster, start_cluster
from tests.e2e.harness.loadgen import LoadGenerator
from tests.e2e.harness.manifests import NAME
from tests.e2e.harness.models import ScenarioModels
from tests.e2e.harness.operator import OperatorProcess
from tests.e2e.harness.prometheus import PrometheusServer
from tests.e2e.harness.scenario import ROLLOUT, Scenario
from tests.e2e.harness.waits import wait_for

NAMESPACE = "credit-demo"
CANARY = f"{NAME}-canary"
STEPS = [25, 50]
DONE = ("Succeeded", "Failed")
FAULT = {"INFERENCE_FAULT_ERROR_RATE": "0.3"}
# v2's shadow phase (docs/shadow.md): at 50 req/s mirrored in full, 300 pairs take ~6 s; the
# phase lasts at least 15 s. v2 is a retrain on another seed and flips ~1.5 % of decisions:
# the demo judges the flip rate against 3 % so the Wilson interval clears near 300 pairs
# (the default 2 % needs ~2,000 pairs)
SHADOW = {
    "enabled": True,
    "duration": "15s",
    "minRequests": 300,
    "timeout": "3m",
    "gates": {"flipRate": {"max": 0.03}},
}


@dataclass
class RolloutReport:
    label: str
    model_uri: str
    started: float
    phase: str = ""
    reason: str = ""
    message: str = ""
    shadow: str = ""  # the shadow phase's figures, when it ran
    seconds: float = 0.0
    timeline: list[tuple[float, str]] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def local_cluster(workdir: Path, tracking_uri: str) -> Iterator[tuple[Cluster, OperatorProcess]]:
    """Control plane + kwok, and the operator watching the demo namespace."""
    with contextlib.ExitStack() as stack:
        print("  starting etcd, kube-apiserver, controller-manager, scheduler, kwok ...")
        cluster = start_cluster(workdir / "cluster")
        stack.callback(cluster.stop)
        operator = OperatorProcess(
            cluster.operator_kubeconfig, tracking_uri, workdir / "operator", [NAMESPACE]
        )
        stack.callback(operator.stop)
        operator.start()
        print(f"  control plane at {cluster.cp.server}; operator running as its own process")
        yield cluster, operator


@contextlib.contextmanager
def serving(
    cluster: Cluster, prometheus: PrometheusServer, models: ScenarioModels, workdir: Path
) -> Iterator[Scenario]:
    """The stable Deployment (2 pods, HPA 2–4), its Service and HTTPRoute, serving v1."""
    scenario = Scenario(cluster, prometheus, models, NAMESPACE, workdir)
    try:
        print(f"  deploying {models.stable_uri} as the stable track (2 pods) ...")
        scenario.setup(replicas=2, hpa=(2, 4), timeout=180)
        yield scenario
    finally:
        scenario.teardown()


def _report_new_events(s: Scenario, seen: set[str], report: RolloutReport) -> None:
    """Print the Events not seen yet, with their offset from the apply, and keep them."""
    fresh = [e for e in s.events() if e["metadata"]["uid"] not in seen]
    seen.update(e["metadata"]["uid"] for e in fresh)
    for event in fresh:
        at = max(0.0, _event_time(event) - report.started)
        line = f"{event['reason']}: {event['message']}"
        report.timeline.append((at, line))
        print(f"  +{at:5.0f} s  {line}", flush=True)


def _event_time(event: dict[str, Any]) -> float:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or ""
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def roll_out(
    s: Scenario,
    load: LoadGenerator,
    label: str,
    model_uri: str,
    fault: dict[str, str] | None = None,
    shadow: dict[str, Any] | None = None,
    timeout: float = 240,
) -> RolloutReport:
    """`kubectl apply` a ModelRollout for ``model_uri`` and follow it to the end, printing
    each Event the operator writes as it happens."""
    seen = {e["metadata"]["uid"] for e in s.events()}
    report = RolloutReport(label, model_uri, time.time())
    before = {k: (c.sent, c.failed) for k, c in load.stats.counts().items()}
    spec: dict[str, Any] = {"canary": {"steps": STEPS}}
    if shadow:
        spec["shadow"] = shadow
    s.apply_rollout(candidate_uri=model_uri, **spec)
    first = "a shadow phase, then " if shadow else ""
    print(f"  kubectl apply ModelRollout {ROLLOUT}: model.uri={model_uri}, {first}steps {STEPS} %")
    if fault:
        wait_for(lambda: s.deployment(CANARY), 90, "canary Deployment", describe=s.describe)
        s.set_env(CANARY, fault)
        print(f"  (simulated defect) kubectl set env deploy/{CANARY} {_env(fault)}")
    deadline = time.monotonic() + timeout
    version = model_uri.rsplit("/", 1)[-1]
    while time.monotonic() < deadline:
        _report_new_events(s, seen, report)
        rollout = s.rollout()
        status = dict(rollout.get("status") or {})
        current = int(status.get("observedGeneration") or 0) >= rollout["metadata"]["generation"]
        if current and status.get("phase") in DONE and status.get("canaryVersion") == version:
            conditions: list[dict[str, Any]] = status.get("conditions") or []
            condition = next((c for c in conditions if c["type"] == "Promoted"), {})
            report.phase = str(status["phase"])
            report.reason = str(condition.get("reason", ""))
            report.message = str(condition.get("message") or status.get("message") or "")
            report.shadow = shadow_summary(status.get("shadow") or {}) if shadow else ""
            break
        time.sleep(0.5)
    else:
        raise TimeoutError(f"{label} did not finish in {timeout:.0f} s:\n{s.describe()}")
    time.sleep(1.0)  # the last Events and requests of the run
    _report_new_events(s, seen, report)
    report.seconds = time.time() - report.started
    for track, count in load.stats.counts().items():
        sent0, failed0 = before.get(track, (0, 0))
        report.sent[track] = count.sent - sent0
        report.failed[track] = count.failed - failed0
    return report


def shadow_summary(shadow: dict[str, Any]) -> str:
    """One line of the shadow phase's verdict: pairs, flips and their interval, score diff."""
    if not shadow:
        return "no shadow result recorded"
    low, high = shadow.get("flipRateLower"), shadow.get("flipRateUpper")
    interval = f" (95 % interval {low:.2%}..{high:.2%})" if low is not None and high else ""
    diff = shadow.get("meanAbsDiff")
    return (
        f"shadow {shadow.get('verdict')}: {shadow.get('pairs'):.0f} applicants scored by both, "
        f"{shadow.get('flips'):.0f} decisions flipped{interval}"
        + (f", mean |score diff| {diff:.4f}" if diff is not None else "")
    )


def _env(values: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())


def show_rollouts(cluster: Cluster) -> None:
    """What `kubectl get modelrollouts` shows (the real kubectl, admin kubeconfig)."""
    out = cluster.cp.kubectl("get", "modelrollouts", "-n", NAMESPACE, check=False)
    print(f"\n$ kubectl get modelrollouts -n {NAMESPACE}")
    print("  " + (out.stdout or out.stderr).strip().replace("\n", "\n  "))


def print_summary(reports: list[RolloutReport]) -> None:
    print("\nrollout timeline (seconds from `kubectl apply`):")
    for r in reports:
        verdict = f"{r.phase} ({r.reason})" if r.reason else r.phase
        print(f"  {r.label:<14} {r.model_uri:<28} {verdict:<34} {r.seconds:5.0f} s")
        if r.shadow:
            print(f"  {'':<14} {r.shadow}")
        for track in sorted(r.sent):
            print(f"  {'':<14} {track:<8} requests {r.sent[track]:>6}  failed {r.failed[track]:>5}")
    sys.stdout.flush()
