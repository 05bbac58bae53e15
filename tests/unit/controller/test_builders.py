"""Pure builders: canary Deployment/Service/HPA, stable patches, HTTPRoute and Ingress."""

from __future__ import annotations

from typing import Any

import pytest

from controller.builders import (
    HELD_FROM,
    canary_deployment,
    canary_hpa,
    canary_ingress,
    canary_service,
    controlled_by,
    env_value,
    hpa_floor_patch,
    ingress_weight,
    promote_patch,
    route_weight,
    weighted_rules,
)
from tests.unit.controller.factories import OWNER, spec

pytestmark = pytest.mark.unit

CANDIDATE = "models:/credit-default/8"


def stable_deployment() -> dict[str, Any]:
    labels = {"app": "inference", "track": "stable"}
    env = [
        {"name": "MODEL_URI", "value": "models:/credit-default@champion"},
        {"name": "TRACK", "value": "stable"},
        {"name": "API_KEYS", "valueFrom": {"secretKeyRef": {"name": "k", "key": "k"}}},
    ]
    return {
        "metadata": {"name": "inference", "labels": {"app": "inference"}},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "proxy"},
                        {"name": "inference", "image": "inference:1", "env": env},
                    ]
                },
            },
        },
    }


def route(weights: tuple[int, ...] = (100,)) -> dict[str, Any]:
    refs = [{"name": "inference", "port": 8000, "weight": weights[0]}]
    if len(weights) > 1:
        refs.append({"name": "inference-canary", "port": 8000, "weight": weights[1]})
    other = {
        "matches": [{"path": {"value": "/docs"}}],
        "backendRefs": [{"name": "docs", "port": 80}],
    }
    scoring = {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": refs}
    return {"metadata": {"resourceVersion": "7"}, "spec": {"rules": [scoring, other]}}


def test_canary_deployment_copies_the_stable_template_onto_the_canary_track() -> None:
    rollout = spec(targetRef={"name": "inference", "container": "inference"})
    built = canary_deployment(stable_deployment(), rollout, OWNER, CANDIDATE)
    assert built["metadata"]["name"] == "inference-canary"
    assert built["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert built["spec"]["selector"]["matchLabels"] == {"app": "inference", "track": "canary"}
    assert built["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
    assert "replicas" not in built["spec"]  # owned by the canary HPA
    assert env_value(built, "MODEL_URI", "inference") == CANDIDATE
    assert env_value(built, "TRACK", "inference") == "canary"
    assert env_value(built, "INFERENCE_TRACK", "inference") == "canary"
    sidecar, main = built["spec"]["template"]["spec"]["containers"]
    assert "env" not in sidecar
    assert any("valueFrom" in e for e in main["env"])  # secrets kept as they are


def test_canary_deployment_does_not_modify_the_stable_object() -> None:
    stable = stable_deployment()
    canary_deployment(stable, spec(), OWNER, CANDIDATE)
    assert stable == stable_deployment()


def test_default_container_is_the_first_and_a_missing_one_is_an_error() -> None:
    built = canary_deployment(stable_deployment(), spec(), OWNER, CANDIDATE)
    assert env_value(built, "MODEL_URI") == CANDIDATE  # first container: the sidecar
    with pytest.raises(ValueError, match="no container"):
        canary_deployment(
            stable_deployment(),
            spec(targetRef={"name": "inference", "container": "nope"}),
            OWNER,
            CANDIDATE,
        )


def test_canary_service_selects_only_canary_pods() -> None:
    stable_svc = {
        "metadata": {"name": "inference", "labels": {"app": "inference"}},
        "spec": {
            "type": "NodePort",
            "ports": [{"name": "http", "port": 8000, "targetPort": "http", "nodePort": 30080}],
        },
    }
    built = canary_service(stable_svc, spec(), OWNER, stable_deployment())
    assert built["metadata"]["name"] == "inference-canary"
    assert built["spec"]["selector"] == {"app": "inference", "track": "canary"}
    assert built["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http"}]
    assert built["spec"]["type"] == "ClusterIP"


def test_canary_hpa_v2_with_cpu_and_optional_requests_per_second() -> None:
    built = canary_hpa(spec(), OWNER, 1, 3)
    assert built["apiVersion"] == "autoscaling/v2"
    assert built["spec"]["scaleTargetRef"]["name"] == "inference-canary"
    assert (built["spec"]["minReplicas"], built["spec"]["maxReplicas"]) == (1, 3)
    assert built["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    rps = canary_hpa(spec(autoscaling={"targetRequestsPerSecond": 12.5}), OWNER, 1, 3)
    pods = rps["spec"]["metrics"][1]["pods"]
    assert pods["target"] == {"type": "AverageValue", "averageValue": "12.5"}
    assert pods["metric"]["name"] == "http_requests_per_second"


def test_promote_patch_is_a_strategic_merge_of_one_env_entry() -> None:
    patch = promote_patch(
        stable_deployment(),
        spec(targetRef={"name": "inference", "container": "inference"}),
        CANDIDATE,
    )
    containers = patch["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "inference", "env": [{"name": "MODEL_URI", "value": CANDIDATE}]}]


def test_hpa_floor_patch_keeps_and_clears_the_original() -> None:
    assert hpa_floor_patch(6, 2) == {
        "metadata": {"annotations": {HELD_FROM: "2"}},
        "spec": {"minReplicas": 6},
    }
    assert hpa_floor_patch(2, None)["metadata"]["annotations"] == {HELD_FROM: None}


@pytest.mark.parametrize("weight", [0, 5, 50, 100])
def test_http_route_weights(weight: int) -> None:
    rules = weighted_rules(route(), spec(), weight)
    refs = rules[0]["backendRefs"]
    assert refs[0] == {"name": "inference", "port": 8000, "weight": 100 - weight}
    if weight:
        assert refs[1] == {"name": "inference-canary", "port": 8000, "weight": weight}
    else:
        assert len(refs) == 1
    assert rules[1] == route()["spec"]["rules"][1]  # unrelated rule untouched
    assert rules[0]["matches"] == route()["spec"]["rules"][0]["matches"]
    assert route_weight({"spec": {"rules": rules}}, "inference-canary") == weight


def test_http_route_weight_change_and_back_to_stable() -> None:
    rules = weighted_rules(route((90, 10)), spec(), 25)
    assert [r["weight"] for r in rules[0]["backendRefs"]] == [75, 25]
    assert weighted_rules(route((90, 10)), spec(), 0)[0]["backendRefs"] == [
        {"name": "inference", "port": 8000, "weight": 100}
    ]


def test_canary_ingress_has_nginx_annotations_and_canary_backend() -> None:
    stable: dict[str, Any] = {
        "metadata": {"name": "inference"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "score.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": "inference", "port": {"number": 8000}}
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }
    built = canary_ingress(stable, spec(router={"ingress": {"name": "inference"}}), OWNER, 25)
    assert built["metadata"]["name"] == "inference-canary"
    annotations = built["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/canary"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/canary-weight"] == "25"
    backend = built["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "inference-canary", "port": {"number": 8000}}
    assert built["spec"]["ingressClassName"] == "nginx"
    assert ingress_weight(built) == 25
    assert ingress_weight(None) == 0
    assert (
        stable["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "inference"
    )


def test_controlled_by_needs_this_rollouts_controller_reference() -> None:
    ours = {"metadata": OWNER.metadata("x")}
    assert controlled_by(ours, "uid-1")
    assert not controlled_by(ours, "uid-2")  # another rollout's object
    assert not controlled_by({"metadata": {"name": "x"}}, "uid-1")  # nobody's
    ref = {**OWNER.reference(), "controller": False}
    assert not controlled_by({"metadata": {"ownerReferences": [ref]}}, "uid-1")
    ref = {**OWNER.reference(), "kind": "ReplicaSet"}
    assert not controlled_by({"metadata": {"ownerReferences": [ref]}}, "uid-1")
