"""Traffic routing built exactly (``controller.builders.routing``): HTTPRoute weights at
their edges, the canary backendRef copied from the stable one, and the canary Ingress."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.builders.routing import (
    NGINX,
    canary_ingress,
    ingress_weight,
    route_weight,
    weighted_rules,
)
from tests.unit.controller.factories import OWNER, spec

pytestmark = pytest.mark.unit

SPEC = spec()
STABLE, CANARY = SPEC.stable_service, SPEC.canary_service
Obj = dict[str, Any]


def route(*rules: list[Obj]) -> Obj:
    return {"spec": {"rules": [{"backendRefs": refs} for refs in rules]}}


def stable_ref(**extra: Any) -> Obj:
    return {"name": STABLE, "port": 80, "kind": "Service", **extra}


def test_a_weight_splits_the_stable_ref_and_copies_its_fields_to_the_canary() -> None:
    original = route([stable_ref(weight=100), {"name": "other", "port": 81}])
    rules = weighted_rules(original, SPEC, 1)
    assert rules[0]["backendRefs"] == [
        {"name": STABLE, "port": 80, "kind": "Service", "weight": 99},
        {"name": "other", "port": 81},  # another backend is kept as it was
        {"port": 80, "kind": "Service", "name": CANARY, "weight": 1},
    ]
    assert original == route([stable_ref(weight=100), {"name": "other", "port": 81}])


def test_weight_zero_removes_the_canary_ref_and_gives_stable_everything() -> None:
    at_20 = route([stable_ref(weight=80), {"name": CANARY, "port": 80, "weight": 20}])
    assert weighted_rules(at_20, SPEC, 0)[0]["backendRefs"] == [stable_ref(weight=100)]


def test_rules_without_the_stable_service_or_without_refs_are_left_alone() -> None:
    untouched = route([{"name": "payments", "port": 443}])
    assert weighted_rules(untouched, SPEC, 50) == untouched["spec"]["rules"]
    assert weighted_rules({"spec": {"rules": [{}]}}, SPEC, 50) == [{"backendRefs": []}]
    assert weighted_rules({}, SPEC, 50) == []
    assert weighted_rules({"spec": {}}, SPEC, 50) == []


def test_the_route_weight_is_the_canary_refs_weight() -> None:
    assert route_weight(route([stable_ref(), {"name": CANARY, "weight": 35}]), CANARY) == 35
    assert route_weight(route([stable_ref(), {"name": CANARY}]), CANARY) == 1  # API default
    assert route_weight(route([stable_ref()]), CANARY) == 0
    assert route_weight({}, CANARY) == 0
    assert route_weight({"spec": {}}, CANARY) == 0


def stable_ingress(**spec_extra: Any) -> Obj:
    backend = {"service": {"name": STABLE, "port": {"number": 80}}}
    other = {"service": {"name": "docs", "port": {"number": 80}}}
    paths = [{"path": "/api", "pathType": "Prefix", "backend": backend}]
    paths.append({"path": "/docs", "pathType": "Prefix", "backend": other})
    rules = [{"host": "credit.example", "http": {"paths": paths}}, {"host": "bare"}]
    return {"metadata": {"name": "web"}, "spec": {"rules": rules, **spec_extra}}


def test_the_canary_ingress_copies_the_stable_one_onto_the_canary_service() -> None:
    stable = stable_ingress(ingressClassName="nginx")
    before = copy.deepcopy(stable)
    built = canary_ingress(stable, SPEC, OWNER, 25)
    assert built["apiVersion"] == "networking.k8s.io/v1"
    assert built["kind"] == "Ingress"
    assert built["metadata"] == {
        **OWNER.metadata("web-canary"),
        "annotations": {f"{NGINX}/canary": "true", f"{NGINX}/canary-weight": "25"},
    }
    paths = built["spec"]["rules"][0]["http"]["paths"]
    assert paths[0]["backend"]["service"] == {"name": CANARY, "port": {"number": 80}}
    assert paths[1]["backend"]["service"]["name"] == "docs"  # not the stable Service
    assert built["spec"]["rules"][1] == {"host": "bare"}
    assert built["spec"]["ingressClassName"] == "nginx"
    assert stable == before
    assert ingress_weight(built) == 25


def test_an_ingress_without_class_rules_or_backends_still_builds() -> None:
    bare = {"metadata": {"name": "web"}, "spec": {}}
    assert canary_ingress(bare, SPEC, OWNER, 5)["spec"] == {"rules": []}
    odd = {"metadata": {"name": "web"}, "spec": {"rules": [{"http": {"paths": [{}]}}]}}
    assert canary_ingress(odd, SPEC, OWNER, 5)["spec"]["rules"] == [{"http": {"paths": [{}]}}]
    assert ingress_weight(None) == 0
    assert ingress_weight({"metadata": {}}) == 0
