"""The canary workload built exactly (``controller.builders.workloads``): every field the
API server reads, whole objects compared, and the stable objects left untouched."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.builders import canary_deployment, canary_hpa, canary_service
from controller.builders.meta import MANAGED_BY, ROLLOUT_LABEL
from controller.builders.workloads import canary_selector
from tests.unit.controller.factories import OWNER, spec

pytestmark = pytest.mark.unit

SPEC = spec()
URI = "models:/credit-default/8"
Obj = dict[str, Any]


def stable() -> Obj:
    labels = {"app": "inference", "track": "stable"}
    return {
        "metadata": {"name": "inference", "labels": {"app": "inference", "team": "risk"}},
        "spec": {
            "selector": {"matchLabels": labels, "matchExpressions": [{"key": "x"}]},
            "template": {
                "metadata": {"labels": labels, "annotations": {"a": "b"}},
                "spec": {
                    "containers": [
                        {"name": "inference", "image": "inference:1", "env": [{"name": "A"}]}
                    ]
                },
            },
        },
    }


def owned(name: str, labels: dict[str, str]) -> Obj:
    return {
        "name": name,
        "namespace": "credit-risk",
        "labels": {**labels, **MANAGED_BY, ROLLOUT_LABEL: "credit-default"},
        "ownerReferences": [OWNER.reference()],
    }


def test_the_canary_selector_narrows_to_the_canary_track_and_keeps_expressions() -> None:
    s = stable()
    assert canary_selector(s) == {
        "matchLabels": {"app": "inference", "track": "canary"},
        "matchExpressions": [{"key": "x"}],
    }
    assert canary_selector({"spec": {"selector": {}}}) == {"matchLabels": {"track": "canary"}}
    assert s == stable()


def test_the_canary_selector_shares_nothing_with_the_stable_one() -> None:
    s = stable()
    selector = canary_selector(s)
    selector["matchExpressions"][0]["operator"] = "Exists"
    selector["matchExpressions"].append({"key": "y"})
    assert s == stable()  # a later change of the canary's selector never reaches the stable


def test_the_canary_deployment_keeps_the_stable_rollout_strategy() -> None:
    s = stable()
    own = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    s["spec"]["strategy"] = own
    assert canary_deployment(s, SPEC, OWNER, URI)["spec"]["strategy"] == own
    s["spec"]["strategy"] = {"type": "Recreate"}
    assert canary_deployment(s, SPEC, OWNER, URI)["spec"]["strategy"] == {"type": "Recreate"}


def test_the_canary_deployment_in_full() -> None:
    s = stable()
    built = canary_deployment(s, SPEC, OWNER, URI)
    canary_env = [
        {"name": "A"},
        {"name": "MODEL_URI", "value": URI},
        {"name": "TRACK", "value": "canary"},
        {"name": "INFERENCE_TRACK", "value": "canary"},
    ]
    assert built == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": owned(
            SPEC.canary_name, {"app": "inference", "team": "risk", "track": "canary"}
        ),
        "spec": {
            "selector": {
                "matchLabels": {"app": "inference", "track": "canary"},
                "matchExpressions": [{"key": "x"}],
            },
            "template": {
                "metadata": {
                    "labels": {"app": "inference", "track": "canary"},
                    "annotations": {"a": "b"},
                },
                "spec": {
                    "containers": [{"name": "inference", "image": "inference:1", "env": canary_env}]
                },
            },
            "revisionHistoryLimit": 2,
            "strategy": {"type": "RollingUpdate"},  # the default when stable has none
        },
    }
    assert s == stable()


def test_a_stable_without_template_metadata_or_labels_still_builds() -> None:
    s = stable()
    del s["spec"]["template"]["metadata"]
    del s["metadata"]["labels"]
    built = canary_deployment(s, SPEC, OWNER, URI)
    assert built["spec"]["template"]["metadata"] == {"labels": {"track": "canary"}}
    assert built["metadata"]["labels"]["track"] == "canary"


def test_the_canary_service_in_full() -> None:
    service = {
        "metadata": {"name": "inference", "labels": {"app": "inference"}},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "inference", "track": "stable"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8000, "nodePort": 30080}],
        },
    }
    before = copy.deepcopy(service)
    assert canary_service(service, SPEC, OWNER, stable()) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owned(SPEC.canary_service, {"app": "inference", "track": "canary"}),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "inference", "track": "canary"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8000}],  # no nodePort
        },
    }
    assert service == before
    bare = {"metadata": {"name": "inference"}, "spec": {}}
    built = canary_service(bare, SPEC, OWNER, stable())
    assert built["spec"]["ports"] == []
    assert built["metadata"]["labels"]["track"] == "canary"


def test_the_canary_hpa_in_full() -> None:
    assert canary_hpa(SPEC, OWNER, 1, 3) == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": owned(SPEC.canary_name, {"track": "canary"}),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": SPEC.canary_name,
            },
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def test_a_requests_target_adds_a_pods_metric() -> None:
    with_rps = spec(autoscaling={"targetRequestsPerSecond": 12.5, "requestsMetric": "rps"})
    metrics = canary_hpa(with_rps, OWNER, 1, 3)["spec"]["metrics"]
    assert metrics[1] == {
        "type": "Pods",
        "pods": {
            "metric": {"name": "rps"},
            "target": {"type": "AverageValue", "averageValue": "12.5"},
        },
    }
    assert len(metrics) == 2
