"""The shadow phase's RequestMirror filter on the HTTPRoute (``controller.builders.
routing.mirrored_rules``) and the baseline env of the canary pods."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.builders import (
    canary_deployment,
    ingress_mirror,
    ingress_mirror_patch,
    mirror_url,
    mirrored_rules,
    route_mirror,
)
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


def test_the_smallest_share_still_mirrors() -> None:
    rules = mirrored_rules(route(rule(stable_ref())), SPEC, 1)
    assert rules == [{"backendRefs": [stable_ref()], "filters": [mirror(1)]}]
    assert route_mirror(route(*rules), CANARY) == 1


def test_the_mirror_target_takes_the_stable_refs_address_not_its_filters() -> None:
    # an HTTPBackendRef's own filters and weight belong to that ref; a RequestMirror's
    # backendRef is a plain object reference (name, namespace, kind, port)
    header = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": []}}
    ref = stable_ref(namespace="credit-risk", filters=[header])
    rules = mirrored_rules(route(rule(ref)), SPEC, 100)
    target = {"name": CANARY, "port": 80, "kind": "Service", "namespace": "credit-risk"}
    assert rules[0]["filters"] == [
        {"type": "RequestMirror", "requestMirror": {"backendRef": target, "percent": 100}}
    ]
    assert rules[0]["backendRefs"] == [ref]


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


# ingress-nginx's mirror annotation on the stable Ingress (``mirror_url``,
# ``ingress_mirror_patch``, ``ingress_mirror``): Ingresses of any shape the API allows

TARGET = "nginx.ingress.kubernetes.io/mirror-target"
URL = f"http://{CANARY}.ns.svc.cluster.local:8000$request_uri"


def ingress(*rules: Obj, name: str = "edge") -> Obj:
    return {"metadata": {"name": name}, "spec": {"rules": list(rules)}}


def path_to(service: str, port: Obj) -> Obj:
    return {"path": "/", "backend": {"service": {"name": service, "port": port}}}


def test_the_mirror_url_skips_rules_and_paths_that_send_nowhere_else() -> None:
    found = ingress(
        {"host": "docs.example"},  # no http section
        {"http": {}},  # no paths
        {
            "http": {
                "paths": [
                    {"path": "/none"},  # no backend
                    {"path": "/r", "backend": {"resource": {"kind": "Bucket", "name": "b"}}},
                    path_to("other", {"number": 9000}),
                    path_to(STABLE, {"number": 8000}),
                ]
            }
        },
    )
    assert mirror_url(found, SPEC, "ns", None) == URL


@pytest.mark.parametrize(
    "found",
    [
        {"metadata": {"name": "edge"}},  # no spec
        {"metadata": {"name": "edge"}, "spec": {}},  # no rules
        ingress(),
        ingress({"http": {"paths": [path_to("other", {"number": 9000})]}}),
        ingress({"http": {"paths": [path_to(STABLE, {})]}}),  # no port given
    ],
)
def test_an_ingress_that_sends_nothing_to_the_stable_service_cannot_mirror(found: Obj) -> None:
    message = f"^Ingress edge has no backend port for Service {STABLE} to mirror$"
    with pytest.raises(ValueError, match=message):
        mirror_url(found, SPEC, "ns", None)


def test_the_error_of_an_ingress_without_metadata_still_names_the_service() -> None:
    with pytest.raises(ValueError, match=f"^Ingress None has no backend port for Service {STABLE}"):
        mirror_url({"spec": {}}, SPEC, "ns", None)


@pytest.mark.parametrize("canary", [None, {}, {"spec": {}}, {"spec": {"ports": []}}])
def test_a_named_port_the_canary_service_lacks_cannot_mirror(canary: Obj | None) -> None:
    found = ingress({"http": {"paths": [path_to(STABLE, {"name": "http"})]}})
    with pytest.raises(ValueError, match=r"^Ingress edge has no backend port"):
        mirror_url(found, SPEC, "ns", canary)
    named = {"spec": {"ports": [{"name": "grpc", "port": 9000}, {"name": "http", "port": 8000}]}}
    assert mirror_url(found, SPEC, "ns", named) == URL


@pytest.mark.parametrize("metadata", [None, {}, {"annotations": None}, {"annotations": {}}])
def test_an_ingress_without_the_annotation_is_patched_only_to_set_it(
    metadata: Obj | None,
) -> None:
    bare: Obj = {} if metadata is None else {"metadata": metadata}
    assert ingress_mirror_patch(bare, URL) == {"metadata": {"annotations": {TARGET: URL}}}
    assert ingress_mirror_patch(bare, None) is None  # already without one
    assert ingress_mirror(bare, SPEC) == 0
    assert ingress_mirror(None, SPEC) == 0


def test_the_ingress_mirrors_only_to_our_canary_service() -> None:
    def annotated(url: str) -> Obj:
        return {"metadata": {"annotations": {TARGET: url}}}

    assert ingress_mirror(annotated(URL), SPEC) == 100
    assert ingress_mirror_patch(annotated(URL), URL) is None
    assert ingress_mirror_patch(annotated(URL), None) == {
        "metadata": {"annotations": {TARGET: None}}
    }
    assert ingress_mirror(annotated("http://audit.ns.svc.cluster.local:80$request_uri"), SPEC) == 0
    assert ingress_mirror(annotated(""), SPEC) == 0
