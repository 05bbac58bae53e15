"""The operator against a REAL kube-apiserver (etcd + apiserver with RBAC, built from the
Kubernetes Go modules): CRD schema, least-privilege RBAC, and whole rollouts driven by
kopf under the controller's ServiceAccount, with metrics from a fake source injected at
the adapter boundary and Deployment readiness reported by a fake kubelet."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from controller.builders import Owner, canary_hpa, in_place
from controller.cache import ObjectCache
from controller.events import EventQueue
from controller.kube import (
    CACHED,
    DEPLOYMENTS,
    EVENTS,
    HPAS,
    HTTPROUTES,
    INGRESSES,
    ROLLOUTS,
    SERVICES,
    Kube,
)
from controller.mlflow_adapter import ModelRegistry
from controller.prometheus import FakeMetricsSource
from controller.reconcile import reconcile
from controller.runtime import Runtime
from controller.settings import ControllerSettings
from controller.spec import RolloutSpec
from services.core.registry import client as mlflow_client
from tests.integration.controller.cluster import (
    NS,
    FakeKubelet,
    Operator,
    rollout,
    stable_world,
)
from tests.integration.controller.conftest import RolloutModels
from tests.support.controlplane import ControlPlane, build_if_missing
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SA = "modelrollout-controller"
GOOD = {
    "requests": 500,
    "errorRatio": 0.001,
    "latencyP99": 0.05,
    "featurePSI": 0.05,
    "scorePSI": 0.04,
    "positiveRateShift": 0.01,
}
FAST: dict[str, Any] = {
    "canary": {"steps": [20, 50], "interval": "1s", "progressDeadline": "20s"},
    "analysis": {"minRequests": 100},
}
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlane]:
    build_if_missing()
    plane = ControlPlane()
    try:
        plane.start()
        plane.apply(plane.crd_dir("gateway-api"), ROOT / "k8s" / "crd" / "modelrollouts.yaml")
        plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        plane.apply(ROOT / "k8s" / "rbac")
        plane.apply(ROOT / "k8s" / "admission" / "action-by.yaml")
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="module")
def admin(cp: ControlPlane) -> Kube:
    return Kube(cp.client(), "tests")


@dataclass
class Harness:
    cp: ControlPlane
    admin: Kube
    models: RolloutModels
    operator: Operator
    kubelet: FakeKubelet
    fakes: dict[str, FakeMetricsSource] = field(default_factory=dict)

    def world(self, name: str, stable_version: str = "1") -> None:
        for obj in stable_world(name, self.models.uri(stable_version)):
            self.admin.apply(obj)

    def start(self, name: str, target: str, uri: str, **spec: Any) -> None:
        self.world(target)
        self.fakes.setdefault(target, FakeMetricsSource(dict(GOOD)))
        self.admin.apply(rollout(name, target, uri, **{**FAST, **spec}))

    def get(self, name: str) -> Obj:
        found = self.admin.get(ROLLOUTS, NS, name)
        assert found is not None
        return found

    def need(self, res: Any, name: str) -> Obj:
        found = self.admin.get(res, NS, name)
        assert found is not None, name
        return found

    def status(self, name: str) -> Obj:
        return self.get(name).get("status") or {}

    def wait_phase(self, name: str, phase: str, timeout: float = 60) -> Obj:
        return wait_for(
            f"{name} {phase}",
            lambda: self.status(name).get("phase") == phase and self.status(name),
            timeout,
        )

    def weights(self, route: str) -> list[int]:
        found = self.admin.get(HTTPROUTES, NS, route)
        assert found is not None
        return [int(r.get("weight", 1)) for r in found["spec"]["rules"][0]["backendRefs"]]

    def events(self, name: str) -> list[str]:
        queued = self.operator.runtime.events
        assert queued is None or queued.join()  # posted in the background
        items = self.admin.list(EVENTS, NS)
        ordered = sorted(items, key=lambda e: int(e["metadata"]["resourceVersion"]))
        return [e["reason"] for e in ordered if e["involvedObject"]["name"] == name]

    def annotate(self, name: str, action: str) -> None:
        self.cp.kubectl(
            "annotate", "mro", name, "-n", NS, f"mlops.creditrisk.io/action={action}", "--overwrite"
        )

    def annotate_as(self, user: str, name: str, *annotations: str) -> None:
        """Annotate as ``user`` (impersonated, with the rights of system:masters)."""
        who = (f"--as={user}", "--as-group=system:masters")
        self.cp.kubectl("annotate", "mro", name, "-n", NS, *annotations, "--overwrite", *who)

    def condition(self, name: str, kind: str) -> Obj:
        return next(c for c in self.status(name)["conditions"] if c["type"] == kind)


def make_runtime(
    cp: ControlPlane, models: RolloutModels, fakes: dict[str, FakeMetricsSource]
) -> Runtime:
    settings = ControllerSettings(
        tick_seconds=0.3,
        metrics_port=0,
        liveness_port=0,
        namespaces=[NS],
        mlflow_tracking_uri=models.tracking_uri,
    )
    sa = cp.serviceaccount_kubeconfig(NS, SA, create=False)
    # As ``build_runtime``: reads from the watch-fed cache, Events posted in the background.
    cache = ObjectCache(CACHED, keep_all=True)
    kube = Kube(cp.client(sa), settings.field_manager, settings.request_timeout, cache=cache)

    def metrics(spec: RolloutSpec) -> FakeMetricsSource:
        return fakes.setdefault(spec.target_ref.name, FakeMetricsSource(dict(GOOD)))

    registry = ModelRegistry(models.tracking_uri)
    events = EventQueue(kube).start()
    return Runtime(kube, registry, settings, metrics_source=metrics, events=events)


@pytest.fixture
def harness(cp: ControlPlane, admin: Kube, rollout_models: RolloutModels) -> Iterator[Harness]:
    fakes: dict[str, FakeMetricsSource] = {}
    operator = Operator(make_runtime(cp, rollout_models, fakes))
    with FakeKubelet(admin) as kubelet:
        harness = Harness(cp, admin, rollout_models, operator.start(), kubelet, fakes)
        try:
            yield harness
        finally:
            harness.operator.stop()  # the one running now (a test may have restarted it)


# ------------------------------------------------------------------ schema and RBAC


def test_crd_applies_defaults(cp: ControlPlane, admin: Kube) -> None:
    admin.apply(rollout("defaults", "nothing", "models:/credit-default@challenger"))
    found = admin.get(ROLLOUTS, NS, "defaults")
    assert found is not None
    spec = found["spec"]
    assert spec["canary"] == {
        "interval": "1m",
        "failureThreshold": 3,
        "progressDeadline": "10m",
        "approval": {"beforeTraffic": False, "beforePromotion": False},
    }
    assert spec["analysis"]["minRequests"] == 200
    assert spec["analysis"]["gates"]["latencyP99"] == {"enabled": True, "max": "250ms"}
    assert spec["analysis"]["gates"]["positiveRateShift"]["max"] == 0.05
    assert spec["autoscaling"]["targetCPUUtilization"] == 70
    assert spec["prometheus"]["address"] == "http://prometheus.monitoring:9090"
    assert spec["shadow"] == {
        "enabled": False,
        "percent": 100,
        "minRequests": 500,
        "duration": "5m",
        "timeout": "30m",
        "confidence": 0.95,
        "canaryGates": True,
        "gates": {
            "flipRate": {"enabled": True, "max": 0.02},
            "scoreDiff": {"enabled": True, "max": 0.05},
            "scorePSI": {"enabled": True, "max": 0.1},
        },
    }
    assert RolloutSpec.model_validate(spec).canary.weights() == [5, 10, 25, 50]
    admin.delete(ROLLOUTS, NS, "defaults")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"model": {"uri": "s3://bucket/model"}}, "spec.model.uri"),
        ({"canary": {"steps": [10, 5]}}, "steps must increase"),
        ({"canary": {"steps": [5], "stepWeight": 5}}, "not both"),
        ({"canary": {"steps": [0, 50]}}, "spec.canary.steps[0]"),
        ({"canary": {"interval": "soon"}}, "spec.canary.interval"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "minReplicas must not exceed"),
        ({"router": {"httpRoute": {"name": "a"}, "ingress": {"name": "b"}}}, "not both"),
        ({"analysis": {"custom": [{"name": "x", "query": "up"}]}}, "needs min or max"),
        (
            {"analysis": {"custom": [{"name": "x", "query": "up", "min": 2, "max": 1}]}},
            "custom gate's min must not exceed its max",
        ),
        ({"analysis": {"gates": {"errorRatio": {"min": 0.5, "max": 0.1}}}}, "min must not exceed"),
        ({"targetRef": {"kind": "StatefulSet", "name": "x"}}, "spec.targetRef.kind"),
        (
            {"shadow": {"enabled": True, "percent": 50}, "router": {"ingress": {"name": "x"}}},
            "shadow.percent must be 100 with router.ingress",
        ),
        ({"shadow": {"percent": 0}}, "spec.shadow.percent"),
        ({"shadow": {"duration": "soon"}}, "spec.shadow.duration"),
        ({"shadow": {"confidence": 1}}, "spec.shadow.confidence"),
    ],
)
def test_crd_rejects_bad_specs(cp: ControlPlane, spec: Obj, message: str) -> None:
    body = rollout("bad", "inference", "models:/credit-default/1", **spec)
    result = cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(body), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("patch", "deployments.apps", True),
        ("patch", "httproutes.gateway.networking.k8s.io", True),
        ("patch", "modelrollouts.mlops.creditrisk.io/status", True),
        ("delete", "modelrollouts.mlops.creditrisk.io", False),
        ("create", "modelrollouts.mlops.creditrisk.io", False),
        ("get", "secrets", False),
        ("create", "pods", False),
        ("delete", "httproutes.gateway.networking.k8s.io", False),
        ("watch", "deployments.apps", True),  # the read cache (controller/cache.py)
        ("list", "secrets", False),
    ],
)
def test_rbac_is_least_privilege(cp: ControlPlane, verb: str, resource: str, allowed: bool) -> None:
    result = cp.kubectl(
        "auth",
        "can-i",
        verb,
        resource,
        "-n",
        NS,
        f"--as=system:serviceaccount:{NS}:{SA}",
        check=False,
    )
    assert result.stdout.strip() == ("yes" if allowed else "no")
    other = cp.kubectl(
        "auth",
        "can-i",
        verb,
        resource,
        "-n",
        "default",
        f"--as=system:serviceaccount:{NS}:{SA}",
        check=False,
    )
    assert other.stdout.strip() == "no"  # nothing outside the managed namespace


# ------------------------------------------------------------------ whole rollouts


def test_an_applied_canary_hpa_is_in_place_as_the_server_returns_it(admin: Kube) -> None:
    """What ``Target.apply_owned`` relies on to skip an apply: the HPA the API server
    stores holds every field ``canary_hpa`` sets (no server default inside them), and
    other bounds do not."""
    owner = Owner("in-place", NS, "uid-in-place")
    spec = RolloutSpec.model_validate(rollout("in-place", "in-place", "models:/m/2")["spec"])
    built = canary_hpa(spec, owner, 1, 3)
    admin.apply(built)
    try:
        found = admin.get(HPAS, NS, built["metadata"]["name"])
        assert found is not None
        assert in_place(found, built)
        assert not in_place(found, canary_hpa(spec, owner, 2, 3))
    finally:
        admin.delete(HPAS, NS, built["metadata"]["name"])


def _tags(h: Harness, version: str) -> dict[str, str]:
    return dict(mlflow_client(h.models.tracking_uri).get_model_version(h.models.name, version).tags)


def _env(deployment: Obj, key: str) -> str | None:
    env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
    return next((e.get("value") for e in env if e["name"] == key), None)


def _watch_promotion(h: Harness, name: str, target: str) -> tuple[list[list[int]], list[Obj]]:
    """Weights seen on the route and stable HPAs seen while Promoting, until Succeeded."""
    weights: list[list[int]] = []
    held: list[Obj] = []

    def done() -> bool:
        current = h.weights(target)
        if not weights or weights[-1] != current:
            weights.append(current)
        if h.status(name).get("phase") == "Promoting":
            held.append(h.need(HPAS, target))
        return h.status(name).get("phase") == "Succeeded"

    wait_for(f"{name} Succeeded", done, 90)
    return weights, held


def test_a_healthy_candidate_is_promoted(harness: Harness) -> None:
    h = harness
    version = h.models.new_version()
    h.kubelet.delays["ok"] = 2.0  # the stable rolling update takes 2 s
    h.start("mro-ok", "ok", h.models.alias("cand-ok", version))

    status = h.wait_phase("mro-ok", "Progressing")
    canary = h.admin.get(DEPLOYMENTS, NS, "ok-canary")
    assert canary is not None
    assert canary["metadata"]["ownerReferences"][0]["kind"] == "ModelRollout"
    assert _env(canary, "MODEL_URI") == h.models.uri(version)
    assert _env(canary, "TRACK") == "canary"
    assert canary["spec"]["selector"]["matchLabels"] == {"app": "ok", "track": "canary"}
    service = h.admin.get(SERVICES, NS, "ok-canary")
    assert service is not None
    assert service["spec"]["selector"] == {"app": "ok", "track": "canary"}
    assert h.need(HPAS, "ok-canary")["spec"]["maxReplicas"] in (2, 5)
    assert status["stableVersion"] == "1"

    weights, held = _watch_promotion(h, "mro-ok", "ok")
    assert weights[-3:] == [[80, 20], [50, 50], [100]]
    assert held, "the promotion was not observed"
    floors = [hpa["spec"]["minReplicas"] for hpa in held]  # the last may already be restored
    assert floors[0] == 5  # held at 4 stable + 1 canary while the stable rolls
    assert held[0]["metadata"]["annotations"]["mlops.creditrisk.io/original-min-replicas"] == "2"

    status = h.status("mro-ok")
    assert (status["stableVersion"], status["canaryVersion"], status["canaryWeight"]) == (
        version,
        version,
        0,
    )
    assert [r["verdict"] for r in status["history"]] == ["Passed", "Passed"]
    assert status["observedGeneration"] == h.get("mro-ok")["metadata"]["generation"]
    promoted = h.condition("mro-ok", "Promoted")
    assert (promoted["status"], promoted["reason"]) == ("True", "Promoted")
    assert promoted["lastTransitionTime"]
    stable = h.need(DEPLOYMENTS, "ok")
    assert _env(stable, "MODEL_URI") == h.models.uri(version)
    hpa = h.need(HPAS, "ok")
    assert hpa["spec"]["minReplicas"] == 2
    assert "mlops.creditrisk.io/original-min-replicas" not in (
        hpa["metadata"].get("annotations") or {}
    )
    for res in (DEPLOYMENTS, SERVICES, HPAS):
        assert h.admin.get(res, NS, "ok-canary") is None

    assert h.models.alias_version("champion") == version
    tags = _tags(h, version)
    assert tags["rollout.verdict"] == "promoted"
    assert "rollout.analysis.001" in tags
    events = h.events("mro-ok")
    order = ["Started", "Progressing", "Advanced", "Promoting", "Promoted"]
    assert [e for e in events if e in order] == order

    wait = h.cp.kubectl("wait", "mro/mro-ok", "-n", NS, "--for=condition=Promoted", "--timeout=30s")
    assert wait.returncode == 0
    table = h.cp.kubectl("get", "mro", "mro-ok", "-n", NS).stdout.split("\n")
    assert table[0].split() == ["NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "FAILED", "AGE"]
    assert table[1].split()[:6] == ["mro-ok", "Succeeded", version, version, "0", "0"]
    assert REGISTRY.get_sample_value(
        "modelrollout_controller_transitions_total", {"phase": "Succeeded"}
    )
    assert REGISTRY.get_sample_value(
        "modelrollout_controller_analyses_total", {"verdict": "Passed", "reason": "GatesPassed"}
    )


def test_a_failing_candidate_is_rolled_back(harness: Harness) -> None:
    h = harness
    version, champion = h.models.new_version(), h.models.alias_version("champion")
    h.fakes["bad"] = FakeMetricsSource({**GOOD, "errorRatio": 0.2})
    h.start(
        "mro-bad", "bad", h.models.uri(version), canary={**FAST["canary"], "failureThreshold": 2}
    )
    status = h.wait_phase("mro-bad", "Failed")
    assert status["failedChecks"] == 2
    assert [r["verdict"] for r in status["history"]] == ["Failed", "Failed"]
    assert status["history"][0]["gates"][0] == {
        "name": "errorRatio",
        "value": 0.2,
        "max": 0.01,
        "verdict": "Failed",
    }
    assert h.condition("mro-bad", "Promoted")["reason"] == "FailedChecks"
    assert h.weights("bad") == [100]
    canary = h.need(DEPLOYMENTS, "bad-canary")
    assert canary["spec"]["replicas"] == 0
    assert h.admin.get(HPAS, NS, "bad-canary") is None
    assert _env(h.need(DEPLOYMENTS, "bad"), "MODEL_URI") == h.models.uri("1")
    assert h.models.alias_version("champion") == champion
    tags = _tags(h, version)
    assert (tags["rollout.verdict"], tags["rollout.reason"]) == ("rolled_back", "FailedChecks")
    events = h.events("mro-bad")
    assert [e for e in events if e in ("AnalysisFailed", "FailedChecks", "RolledBack")] == [
        "AnalysisFailed",
        "FailedChecks",
        "RolledBack",
    ]


def test_an_incompatible_contract_is_refused_before_any_traffic(harness: Harness) -> None:
    h = harness
    h.start("mro-contract", "contract", h.models.uri("3"))
    status = h.wait_phase("mro-contract", "Failed")
    assert "removed" in status["message"]
    assert h.condition("mro-contract", "ContractCompatible")["status"] == "False"
    assert h.admin.get(DEPLOYMENTS, NS, "contract-canary") is None
    assert h.weights("contract") == [100]
    assert "IncompatibleContract" in h.events("mro-contract")


def test_a_canary_that_never_gets_ready_hits_the_deadline(harness: Harness) -> None:
    h = harness
    h.kubelet.broken.add("late-canary")
    h.start(
        "mro-late",
        "late",
        h.models.uri(h.models.new_version()),
        canary={"steps": [20, 50], "interval": "1s", "progressDeadline": "2s"},
    )
    h.wait_phase("mro-late", "Failed", 30)
    assert h.condition("mro-late", "Promoted")["reason"] == "ProgressDeadlineExceeded"
    assert h.weights("late") == [100]
    assert h.need(DEPLOYMENTS, "late-canary")["spec"]["replicas"] == 0


def test_prometheus_unreachable_past_the_limit_rolls_back(harness: Harness) -> None:
    h = harness
    h.fakes["blind"] = FakeMetricsSource(dict(GOOD), online=False)
    h.start(
        "mro-blind",
        "blind",
        h.models.uri(h.models.new_version()),
        analysis={"minRequests": 100, "maxUnreachable": 2},
    )
    status = h.wait_phase("mro-blind", "Failed")
    assert status["failedChecks"] == 0
    assert [r["reason"] for r in status["history"]] == ["PrometheusUnreachable"] * 2
    assert h.condition("mro-blind", "Promoted")["reason"] == "PrometheusUnreachable"
    assert h.weights("blind") == [100]


def test_operator_actions_by_annotation(harness: Harness) -> None:
    h = harness
    version = h.models.new_version()
    h.start(
        "mro-act",
        "act",
        h.models.uri(version),
        canary={"steps": [20, 50], "interval": "1h", "progressDeadline": "20s"},
    )
    h.wait_phase("mro-act", "Progressing")
    assert h.weights("act") == [80, 20]

    h.annotate("mro-act", "pause")
    h.wait_phase("mro-act", "Paused")
    assert h.condition("mro-act", "Paused")["status"] == "True"
    wait_for(
        "annotation cleared",
        lambda: (
            "mlops.creditrisk.io/action"
            not in (h.get("mro-act")["metadata"].get("annotations") or {})
        ),
    )
    h.annotate("mro-act", "resume")
    h.wait_phase("mro-act", "Progressing")

    h.annotate("mro-act", "abort")
    h.wait_phase("mro-act", "Failed")
    assert h.condition("mro-act", "Promoted")["reason"] == "Aborted"
    assert h.weights("act") == [100]

    h.annotate("mro-act", "retry")
    wait_for("retried", lambda: h.status("mro-act").get("retries") == 1)
    h.wait_phase("mro-act", "Progressing")
    assert h.weights("act") == [80, 20]

    h.annotate("mro-act", "promote")
    h.wait_phase("mro-act", "Succeeded")
    assert _env(h.need(DEPLOYMENTS, "act"), "MODEL_URI") == h.models.uri(version)
    h.annotate("mro-act", "yolo")
    wait_for("ignored", lambda: "ActionIgnored" in h.events("mro-act"))
    events = h.events("mro-act")
    for reason in ("Paused", "Resumed", "Aborted", "RolledBack", "Retried", "PromotedByOperator"):
        assert reason in events


def test_sign_offs_hold_the_rollout_and_record_who_approved(harness: Harness) -> None:
    h = harness
    version = h.models.new_version()
    canary = {**FAST["canary"], "approval": {"beforeTraffic": True, "beforePromotion": True}}
    h.start("mro-sign", "sign", h.models.uri(version), canary=canary)
    status = h.wait_phase("mro-sign", "AwaitingApproval")
    assert status["awaiting"] == "beforeTraffic"
    assert h.weights("sign") == [100]
    assert h.need(DEPLOYMENTS, "sign-canary")["status"].get("readyReplicas") == 1

    h.annotate_as("alice", "mro-sign", "mlops.creditrisk.io/action=approve")
    status = wait_for(
        "past the traffic sign-off",
        lambda: h.status("mro-sign").get("awaiting") == "beforePromotion" and h.status("mro-sign"),
    )
    assert status["phase"] == "AwaitingApproval"
    assert [(a["point"], a["by"], a["version"]) for a in status["approvals"]] == [
        ("beforeTraffic", "alice", version)
    ]
    assert h.weights("sign") == [50, 50]  # held at the last step while the sign-off waits
    assert status["lastAnalysis"]["verdict"] == "Passed"

    # bob signs, and writes alice's name into action-by: the admission policy overwrites it
    forged = ("mlops.creditrisk.io/action=approve", "mlops.creditrisk.io/action-by=alice")
    h.annotate_as("bob", "mro-sign", *forged)
    status = h.wait_phase("mro-sign", "Succeeded")
    assert [(a["point"], a["by"]) for a in status["approvals"]] == [
        ("beforeTraffic", "alice"),
        ("beforePromotion", "bob"),
    ]
    assert status["lastActionBy"] == "bob"
    annotations = h.get("mro-sign")["metadata"].get("annotations") or {}
    assert not {k for k in annotations if k.startswith("mlops.creditrisk.io/action")}
    approvals = json.loads(_tags(h, version)["rollout.approvals"])
    assert {point: signed["by"] for point, signed in approvals.items()} == {
        "beforeTraffic": "alice",
        "beforePromotion": "bob",
    }
    events = [e for e in h.events("mro-sign") if e in ("AwaitingApproval", "Approved")]
    assert events == ["AwaitingApproval", "Approved", "AwaitingApproval", "Approved"]


def test_a_new_candidate_mid_rollout_restarts_the_analysis(harness: Harness) -> None:
    h = harness
    first, second = h.models.new_version(), h.models.new_version()
    uri = h.models.alias("cand-change", first)
    h.start(
        "mro-change",
        "change",
        uri,
        canary={"steps": [20, 50], "interval": "1h", "progressDeadline": "20s"},
    )
    h.wait_phase("mro-change", "Progressing")
    h.models.alias("cand-change", second)
    wait_for("new candidate", lambda: h.status("mro-change").get("canaryVersion") == second)
    h.wait_phase("mro-change", "Progressing")
    canary = h.need(DEPLOYMENTS, "change-canary")
    assert _env(canary, "MODEL_URI") == h.models.uri(second)
    assert "CandidateChanged" in h.events("mro-change")


def test_deleting_a_rollout_restores_stable_routing(harness: Harness) -> None:
    h = harness
    h.start(
        "mro-gone",
        "gone",
        h.models.uri(h.models.new_version()),
        canary={"steps": [20, 50], "interval": "1h", "progressDeadline": "20s"},
    )
    h.wait_phase("mro-gone", "Progressing")
    assert "mlops.creditrisk.io/finalizer" in h.get("mro-gone")["metadata"]["finalizers"]
    assert h.weights("gone") == [80, 20]
    h.admin.delete(ROLLOUTS, NS, "mro-gone")
    wait_for("deleted", lambda: h.admin.get(ROLLOUTS, NS, "mro-gone") is None)
    assert h.weights("gone") == [100]
    for res in (DEPLOYMENTS, SERVICES, HPAS):
        assert h.admin.get(res, NS, "gone-canary") is None


def test_a_restarted_operator_resumes_at_the_same_step(
    harness: Harness, cp: ControlPlane, rollout_models: RolloutModels
) -> None:
    h = harness
    steps = [10, 20, 30, 40, 50]
    h.start(
        "mro-restart",
        "restart",
        h.models.uri(h.models.new_version()),
        canary={"steps": steps, "interval": "2s", "progressDeadline": "20s"},
    )
    wait_for("step 3", lambda: h.status("mro-restart").get("step") == 2, 60)
    h.operator.stop()
    frozen = h.status("mro-restart")
    time.sleep(3)  # more than an interval passes with no operator
    assert h.status("mro-restart") == frozen
    h.operator = Operator(make_runtime(cp, rollout_models, h.fakes)).start()  # nothing in memory
    status = h.wait_phase("mro-restart", "Succeeded", 60)
    assert [r["weight"] for r in status["history"]] == steps  # no step repeated or skipped
    assert status["analysisCount"] == len(steps)


def _ingress(name: str) -> Obj:
    """The stable Ingress of ``name`` (ingress-nginx class) sending / to its Service."""
    backend = {"service": {"name": name, "port": {"number": 8000}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "score.example", "http": {"paths": [path]}}],
        },
    }


def test_a_rollout_through_a_canary_ingress(harness: Harness) -> None:
    h = harness
    h.world("nginx")
    h.admin.apply(_ingress("nginx"))
    seen: list[str] = []

    def weight() -> bool:
        canary = h.admin.get(INGRESSES, NS, "nginx-canary")
        if canary is not None:
            value = canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
            if not seen or seen[-1] != value:
                seen.append(value)
        return h.status("mro-nginx").get("phase") == "Succeeded"

    h.admin.apply(
        rollout(
            "mro-nginx",
            "nginx",
            h.models.uri(h.models.new_version()),
            router={"ingress": {"name": "nginx"}},
            **FAST,
        )
    )
    wait_for("promoted through the ingress", weight, 90)
    assert seen == ["20", "50", "0"] or seen == ["20", "50"]
    assert h.admin.get(INGRESSES, NS, "nginx-canary") is None  # removed on promotion
    assert h.weights("nginx") == [100]  # the HTTPRoute was not touched


# ------------------------------------------------------------------ shadow phase
AGREE = [
    ({"baseline_outcome": "default", "outcome": "default"}, 100.0),
    ({"baseline_outcome": "no_default", "outcome": "no_default"}, 400.0),
]
FLIPS = [
    ({"baseline_outcome": "no_default", "outcome": "default"}, 250.0),
    ({"baseline_outcome": "no_default", "outcome": "no_default"}, 250.0),
]
SCORES = [({"le": "0.25"}, 300.0), ({"le": "0.5"}, 400.0), ({"le": "+Inf"}, 500.0)]
SHADOW: dict[str, Any] = {"enabled": True, "duration": "1s", "minRequests": 400}


def _paired(decisions: list[tuple[dict[str, str], float]]) -> dict[str, Any]:
    bands = [({"baseline_band": "A", "band": "A"}, 500.0)]
    return {
        "pairedDecisions": decisions,
        "pairedBands": bands,
        "candidateScore": SCORES,
        "baselineScore": SCORES,
    }


def _mirrors(h: Harness, route: str) -> list[Obj]:
    found = h.admin.get(HTTPROUTES, NS, route)
    assert found is not None
    return [f for r in found["spec"]["rules"] for f in r.get("filters") or []]


def _shadow_world(h: Harness, target: str) -> FakeMetricsSource:
    fake = FakeMetricsSource({**GOOD, "pairedDiffSum": 5.0, "pairedDiffCount": 500.0})
    h.fakes[target] = fake  # no paired figures yet: the phase holds (TooFewPairs)
    return fake


def test_a_shadow_phase_mirrors_then_goes_on_to_traffic(harness: Harness) -> None:
    h = harness
    fake = _shadow_world(h, "sh")
    version = h.models.new_version()
    h.start("mro-sh", "sh", h.models.uri(version), shadow={**SHADOW, "percent": 40})

    h.wait_phase("mro-sh", "Shadowing")

    def mirrored() -> bool:
        found = _mirrors(h, "sh")
        return [(f["type"], f["requestMirror"]["percent"]) for f in found] == [
            ("RequestMirror", 40)
        ]

    wait_for("mirror on", mirrored)
    ref = _mirrors(h, "sh")[0]["requestMirror"]["backendRef"]
    assert (ref["name"], ref["port"]) == ("sh-canary", 8000)  # the stable ref's port
    assert h.weights("sh") == [100], "no applicant traffic while shadowing"
    canary = h.need(DEPLOYMENTS, "sh-canary")
    assert _env(canary, "BASELINE_MODEL_URI") == h.models.uri("1")
    assert _env(canary, "INFERENCE_SHADOW") == "true", "a shadow pod records no decision"
    wait_for("too few pairs", lambda: "TooFewPairs" in h.status("mro-sh").get("message", ""))

    fake.vectors.update(_paired(AGREE))
    h.wait_phase("mro-sh", "Progressing")
    assert _mirrors(h, "sh") == [], "the mirror is removed before the first step"
    after = h.need(DEPLOYMENTS, "sh-canary")
    assert _env(after, "INFERENCE_SHADOW") is None, "traffic only to a pod that records"
    assert _env(after, "BASELINE_MODEL_URI") == h.models.uri("1")
    shadow = h.status("mro-sh")["shadow"]
    assert (shadow["verdict"], shadow["pairs"], shadow["flips"]) == ("Passed", 500, 0)
    assert shadow["bands"] == {"A": {"A": 500}}
    events = h.events("mro-sh")
    assert (
        events.index("ShadowStarted") < events.index("ShadowPassed") < events.index("Progressing")
    )
    assert "CanaryRetemplated" in events  # same tick as ShadowPassed: same-second Events
    assert "rollout.shadow" in _tags(h, version)


def test_a_failed_shadow_rolls_back_and_removes_the_mirror(harness: Harness) -> None:
    h = harness
    fake = _shadow_world(h, "shf")
    fake.vectors.update(_paired(FLIPS))
    version = h.models.new_version()
    h.start("mro-shf", "shf", h.models.uri(version), shadow=SHADOW)

    h.wait_phase("mro-shf", "Failed")
    assert _mirrors(h, "shf") == []
    assert h.weights("shf") == [100]
    assert h.condition("mro-shf", "Promoted")["reason"] == "ShadowFailed"
    assert h.status("mro-shf")["shadow"]["verdict"] == "Failed"
    tags = _tags(h, version)
    assert (tags["rollout.verdict"], tags["rollout.reason"]) == ("rolled_back", "ShadowFailed")


def test_deleting_a_rollout_mid_shadow_removes_the_mirror(harness: Harness) -> None:
    h = harness
    _shadow_world(h, "shd")
    h.start("mro-shd", "shd", h.models.uri(h.models.new_version()), shadow=SHADOW)
    h.wait_phase("mro-shd", "Shadowing")
    wait_for("mirror on", lambda: _mirrors(h, "shd") != [])
    h.admin.delete(ROLLOUTS, NS, "mro-shd")
    wait_for("rollout gone", lambda: h.admin.get(ROLLOUTS, NS, "mro-shd") is None, 30)
    assert _mirrors(h, "shd") == []
    assert h.weights("shd") == [100]


MIRROR_TARGET = "nginx.ingress.kubernetes.io/mirror-target"


def _mirror_target(h: Harness, ingress: str) -> str | None:
    found = h.need(INGRESSES, ingress)
    value: str | None = (found["metadata"].get("annotations") or {}).get(MIRROR_TARGET)
    return value


def test_a_shadow_phase_through_ingress_nginx_mirrors_every_request(harness: Harness) -> None:
    h = harness
    fake = _shadow_world(h, "shi")
    h.world("shi")
    h.admin.apply(_ingress("shi"))
    h.start(
        "mro-shi",
        "shi",
        h.models.uri(h.models.new_version()),
        shadow=SHADOW,
        router={"ingress": {"name": "shi"}},
    )

    h.wait_phase("mro-shi", "Shadowing")
    url = f"http://shi-canary.{NS}.svc.cluster.local:8000$request_uri"
    wait_for("mirror annotation on", lambda: _mirror_target(h, "shi") == url)
    assert h.admin.get(INGRESSES, NS, "shi-canary") is None, "no applicant traffic"

    fake.vectors.update(_paired(AGREE))
    h.wait_phase("mro-shi", "Progressing")
    assert _mirror_target(h, "shi") is None, "the mirror is removed before the first step"
    assert h.status("mro-shi")["shadow"]["verdict"] == "Passed"
    h.wait_phase("mro-shi", "Succeeded")
    assert _mirror_target(h, "shi") is None


def test_paired_gates_roll_back_a_canary_that_flips_decisions(harness: Harness) -> None:
    """The shadow phase passed on agreeing pairs; at the canary steps the canary's own
    applicants flip half the decisions: each analysis fails, the rollout rolls back."""
    h = harness
    fake = _shadow_world(h, "shc")
    fake.vectors.update(_paired(AGREE))
    version = h.models.new_version()
    h.start(
        "mro-shc",
        "shc",
        h.models.uri(version),
        shadow=SHADOW,
        canary={**FAST["canary"], "failureThreshold": 2},
    )
    h.wait_phase("mro-shc", "Progressing")
    fake.vectors.update(_paired(FLIPS))

    h.wait_phase("mro-shc", "Failed")
    status = h.status("mro-shc")
    assert h.condition("mro-shc", "Promoted")["reason"] == "FailedChecks"
    last = status["lastAnalysis"]
    assert last["verdict"] == "Failed"
    assert last["message"].startswith("pairedFlipRate")
    assert (last["paired"]["pairs"], last["paired"]["flips"]) == (500, 250)
    assert h.weights("shc") == [100]


def _idle_ticks() -> float:
    return REGISTRY.get_sample_value("modelrollout_controller_idle_ticks_total") or 0.0


def test_a_finished_rollout_is_left_alone_until_something_can_move_it(harness: Harness) -> None:
    """Succeeded: its ticks read nothing. An alias moved behind the same URI, then a new
    spec (a pinned version), each restart it; a finished rollout is still deleted."""
    h = harness
    first, second, third = h.models.new_version(), h.models.new_version(), h.models.new_version()
    uri = h.models.alias("cand-idle", first)
    h.start("mro-idle", "idle", uri)
    h.wait_phase("mro-idle", "Succeeded", 90)

    kube, paths = h.operator.runtime.kube, []
    send = kube.request

    def request(method: str, path: str, *args: Any, **kwargs: Any) -> Obj:
        paths.append(path)
        return send(method, path, *args, **kwargs)

    kube.request = request  # type: ignore[method-assign]
    time.sleep(1.0)  # the last writes of the promotion are through
    paths.clear()
    ticks = _idle_ticks()
    time.sleep(2.0)  # ~6 ticks of 0.3 s
    assert _idle_ticks() >= ticks + 3
    # not even the fresh GET of the ModelRollout (other tests' rollouts may still be read)
    assert not [p for p in paths if "/mro-idle" in p or "/idle" in p]

    h.models.alias("cand-idle", second)  # no Kubernetes event: found by the registry call
    wait_for("alias followed", lambda: h.status("mro-idle").get("canaryVersion") == second)
    # the Event is queued after the status write the wait above saw: wait for it too
    wait_for("NewCandidate event", lambda: "NewCandidate" in h.events("mro-idle"), 30)
    h.wait_phase("mro-idle", "Succeeded", 90)
    assert h.status("mro-idle")["stableVersion"] == second

    patch = {"spec": {"model": {"uri": h.models.uri(third)}}}
    h.admin.patch(ROLLOUTS, NS, "mro-idle", patch)
    wait_for("new spec followed", lambda: h.status("mro-idle").get("canaryVersion") == third)
    status = h.wait_phase("mro-idle", "Succeeded", 90)
    assert (status["stableVersion"], status["observedGeneration"]) == (
        third,
        h.get("mro-idle")["metadata"]["generation"],
    )
    assert h.events("mro-idle").count("NewCandidate") == 2

    h.admin.delete(ROLLOUTS, NS, "mro-idle")
    wait_for("deleted", lambda: h.admin.get(ROLLOUTS, NS, "mro-idle") is None, 30)


# ------------------------------------------------------------------ the read cache


def _reads(result: str) -> float:
    sample = REGISTRY.get_sample_value(
        "modelrollout_controller_cache_reads_total", {"resource": "deployments", "result": result}
    )
    return sample or 0.0


def test_cached_reads_follow_changes_made_through_the_api(harness: Harness) -> None:
    """The operator's reads of a watched kind come from its watch-fed cache: an external
    change shows without a GET, a deleted object disappears."""
    h, kube = harness, harness.operator.runtime.kube
    h.world("cache-ext")
    first = kube.get(DEPLOYMENTS, NS, "cache-ext")  # a GET, or the watch's copy if it came
    assert first is not None
    assert first["spec"]["replicas"] == 4
    h.admin.patch(DEPLOYMENTS, NS, "cache-ext", {"spec": {"replicas": 2}})

    def replicas() -> bool:  # from the cache (no request), with the change
        requests = kube.requests
        found = kube.get(DEPLOYMENTS, NS, "cache-ext")
        cached = kube.requests == requests
        return cached and found is not None and found["spec"]["replicas"] == 2

    wait_for("the change in the cache", replicas, 30)
    requests, hits = kube.requests, _reads("hit")
    assert kube.get(DEPLOYMENTS, NS, "cache-ext") is not None
    assert kube.requests == requests  # served without a request
    assert _reads("hit") == hits + 1
    h.admin.delete(DEPLOYMENTS, NS, "cache-ext")

    def gone() -> bool:  # known deleted: no GET either
        requests = kube.requests
        return kube.get(DEPLOYMENTS, NS, "cache-ext") is None and kube.requests == requests

    wait_for("the deletion in the cache", gone, 30)


def test_a_first_read_of_an_object_nobody_asked_for_is_the_watchs_copy(harness: Harness) -> None:
    """As an informer (``keep_all``): the watch's copy of a stable Deployment, Service and
    route no reconcile has asked for yet is served without a GET."""
    h, kube = harness, harness.operator.runtime.kube
    h.world("cache-first")

    def unasked() -> bool:  # the very first read of each, no request made
        requests = kube.requests
        found = [kube.get(res, NS, "cache-first") for res in (DEPLOYMENTS, SERVICES)]
        return kube.requests == requests and all(f is not None for f in found)

    wait_for("the watch's copies served at the first read", unasked, 30)


def test_a_read_after_our_own_patch_sees_it(harness: Harness) -> None:
    """Read-your-writes: the PATCH's answer is in the cache before its watch event."""
    h, kube = harness, harness.operator.runtime.kube
    h.world("cache-own")

    def served() -> bool:  # tracked, and its kind watched: read without a request
        requests = kube.requests
        return kube.get(DEPLOYMENTS, NS, "cache-own") is not None and kube.requests == requests

    wait_for("served from the cache", served, 30)
    for replicas in (1, 3, 2):
        kube.patch(DEPLOYMENTS, NS, "cache-own", {"spec": {"replicas": replicas}})
        requests = kube.requests
        found = kube.get(DEPLOYMENTS, NS, "cache-own")
        assert found is not None
        assert found["spec"]["replicas"] == replicas
        assert kube.requests == requests


def test_a_reconcile_after_our_status_patch_decides_from_it(harness: Harness) -> None:
    """The timer's body (kopf's copy) may predate our last status patch: the reconcile
    takes the patch's answer when newer, so it never decides from the older status."""
    h = harness
    h.start("mro-fresh", "fresh", h.models.uri("2"))
    h.wait_phase("mro-fresh", "Succeeded")
    runtime = h.operator.runtime
    stale = h.get("mro-fresh")
    stale["status"] = {}  # as if kopf had not yet seen any status
    stale["metadata"]["resourceVersion"] = "1"
    assert runtime.rollouts.pick(stale)["status"]["phase"] == "Succeeded"
    decision = reconcile(runtime, NS, "mro-fresh", body=stale)
    assert decision is not None
    assert decision.status.phase.value == "Succeeded"  # not a new rollout from scratch
