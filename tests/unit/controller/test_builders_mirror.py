"""The shadow phase's RequestMirror filter on the HTTPRoute (``controller.builders.
routing.mirrored_rules``) and the baseline env of the canary pods."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.builders import canary_deployment, mirrored_rules, route_mirror
from controller.builders.meta import BASELINE_MODEL_URI, env_value
from controller.observe import workload
from tests.unit.controller.factories import OWNER, spec
from tests.unit.controller.test_builders_workloads import stable

pytestmark = pytest.mark.unit

SPEC = spec(shadow={"enabled": True})
STABLE, CANARY = SPEC.stable_service, SPEC.canary_service
Obj = dict[str, Any]
HEADER = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": []}}


def route(*rules: Obj) -> Obj:
    return {"spec": {"rules": list(rules)}}


def rule(*refs: Obj, filters: list[Obj] | None = None) -> Obj:
    found: Obj = {"backendRefs": list(refs)}
    if filters is not None:
        found["filters"] = filters
    return found


def stable_ref(**extra: Any) -> Obj:
    return {"name": STABLE, "port": 80, "kind": "Service", "weight": 100, **extra}


def mirror(percent: int) -> Obj:
    ref = {"name": CANARY, "port": 80, "kind": "Service"}
    return {"type": "RequestMirror", "requestMirror": {"backendRef": ref, "percent": percent}}


def test_the_mirror_targets_the_canary_on_the_stable_refs_port() -> None:
    original = route(rule(stable_ref()), rule({"name": "other", "port": 81}))
    rules = mirrored_rules(original, SPEC, 30)
    assert rules == [
        {"backendRefs": [stable_ref()], "filters": [mirror(30)]},
        {"backendRefs": [{"name": "other", "port": 81}]},  # a rule without stable: untouched
    ]
    assert route_mirror(route(*rules), CANARY) == 30
    assert original == route(rule(stable_ref()), rule({"name": "other", "port": 81}))


def test_the_mirror_is_replaced_not_added_twice_and_other_filters_stay() -> None:
    original = route(rule(stable_ref(), filters=[HEADER, mirror(100)]))
    rules = mirrored_rules(original, SPEC, 50)
    assert rules[0]["filters"] == [HEADER, mirror(50)]
    assert mirrored_rules(route(*rules), SPEC, 50) == rules  # idempotent


def test_zero_removes_only_our_mirror() -> None:
    foreign = {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "audit"}}}
    original = route(rule(stable_ref(), filters=[HEADER, mirror(100), foreign]))
    assert mirrored_rules(original, SPEC, 0)[0]["filters"] == [HEADER, foreign]
    alone = route(rule(stable_ref(), filters=[mirror(100)]))
    assert mirrored_rules(alone, SPEC, 0) == [{"backendRefs": [stable_ref()]}]
    assert route_mirror(route(*mirrored_rules(alone, SPEC, 0)), CANARY) == 0


def test_mirror_of_a_route_without_rules_or_refs() -> None:
    assert mirrored_rules({}, SPEC, 100) == []
    assert mirrored_rules({"spec": {"rules": [{}]}}, SPEC, 100) == [{}]
    assert route_mirror({}, CANARY) == 0
    no_percent = {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": CANARY}}}
    assert route_mirror(route(rule(stable_ref(), filters=[no_percent])), CANARY) == 100


def test_the_canary_scores_the_baseline_only_when_asked() -> None:
    base = stable()
    before = copy.deepcopy(base)
    uri, baseline = "models:/credit-default/8", "models:/credit-default/7"
    shadowed = canary_deployment(base, SPEC, OWNER, uri, baseline)
    assert env_value(shadowed, BASELINE_MODEL_URI) == baseline
    assert env_value(shadowed, "MODEL_URI") == uri
    assert base == before
    plain = canary_deployment(base, SPEC, OWNER, uri)
    assert env_value(plain, BASELINE_MODEL_URI) is None
    assert shadowed["spec"]["selector"] == plain["spec"]["selector"]


def test_a_baseline_in_the_stable_template_never_reaches_a_plain_canary() -> None:
    base = stable()
    base["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": BASELINE_MODEL_URI, "value": "models:/credit-default/1"}
    )
    plain = canary_deployment(base, SPEC, OWNER, "models:/credit-default/8")
    assert env_value(plain, BASELINE_MODEL_URI) is None
    names = [e["name"] for e in plain["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names == ["A", "MODEL_URI", "TRACK", "INFERENCE_TRACK"]


def test_the_shadow_flag_is_on_only_when_asked_and_never_inherited() -> None:
    base = stable()
    base["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "SHADOW", "value": "true"}
    )
    uri, baseline = "models:/credit-default/8", "models:/credit-default/7"
    shadow = canary_deployment(base, SPEC, OWNER, uri, baseline, shadow=True)
    assert env_value(shadow, "INFERENCE_SHADOW") == "true"
    assert workload(shadow, None).shadow
    after = canary_deployment(base, SPEC, OWNER, uri, baseline)  # re-templated after a pass
    assert env_value(after, "INFERENCE_SHADOW") is None
    assert env_value(after, "SHADOW") is None, "a stable template's flag is dropped"
    assert env_value(after, BASELINE_MODEL_URI) == baseline
    assert not workload(after, None).shadow
