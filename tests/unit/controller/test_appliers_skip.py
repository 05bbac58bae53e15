"""Writes a decision skips when the object already is as asked: the canary HPA apply
(``Target.apply_owned`` + ``builders.in_place``) and the canary's scale to zero
(``appliers.scale_canary_down``) — with a dict-backed stand-in for ``Kube``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.appliers import scale_canary, scale_canary_down
from controller.builders import canary_hpa, in_place
from controller.kube import DEPLOYMENTS, HPAS
from controller.rollout.actions import ScaleCanary, ScaleCanaryDown
from controller.target import NotOwned
from tests.unit.controller.factories import OWNER, spec
from tests.unit.controller.kube_store import KubeStore, target

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def canary(replicas: int | None) -> Obj:
    meta = {"name": "inference-canary", "ownerReferences": [OWNER.reference()]}
    return {"metadata": meta, "spec": {} if replicas is None else {"replicas": replicas}}


def test_the_canary_hpa_is_applied_once_for_the_same_bounds() -> None:
    store = KubeStore()
    scale_canary(target(store), ScaleCanary(1, 3))
    scale_canary(target(store), ScaleCanary(1, 3))  # e.g. the first step after Initializing
    assert store.writes == ["apply horizontalpodautoscalers"]
    scale_canary(target(store), ScaleCanary(2, 5))
    assert store.writes == ["apply horizontalpodautoscalers"] * 2
    assert store.objs[(HPAS.plural, "inference-canary")]["spec"]["minReplicas"] == 2


def test_an_hpa_someone_else_made_is_still_refused() -> None:
    hpa = canary_hpa(spec(), OWNER, 1, 3)
    hpa["metadata"]["ownerReferences"] = []
    store = KubeStore((HPAS, hpa))
    with pytest.raises(NotOwned):
        scale_canary(target(store), ScaleCanary(1, 3))
    assert store.writes == []


def test_scale_down_writes_replicas_only_when_not_already_zero() -> None:
    store = KubeStore((DEPLOYMENTS, canary(2)))
    scale_canary_down(target(store), ScaleCanaryDown())
    assert store.writes == ["patch deployments"]
    scale_canary_down(target(store), ScaleCanaryDown())  # the Failed tick after RollingBack
    assert store.writes == ["patch deployments"]
    assert store.objs[(DEPLOYMENTS.plural, "inference-canary")]["spec"]["replicas"] == 0


def test_scale_down_deletes_the_hpa_before_scaling_the_deployment_to_zero() -> None:
    hpa = canary_hpa(spec(), OWNER, 1, 3)
    hpa["metadata"]["uid"] = "hpa-uid"
    store = KubeStore((HPAS, hpa), (DEPLOYMENTS, canary(2)))
    scale_canary_down(target(store), ScaleCanaryDown())
    # the Deployment stays: a live HPA would scale it back up, so it goes first
    assert store.writes == ["delete horizontalpodautoscalers", "patch deployments"]


def test_scale_down_of_a_deployment_without_replicas_writes_them() -> None:
    store = KubeStore((DEPLOYMENTS, canary(None)))  # replicas absent: the default, 1
    scale_canary_down(target(store), ScaleCanaryDown())
    assert store.writes == ["patch deployments"]


BUILT = canary_hpa(spec(), OWNER, 1, 3)


def served(**changes: Any) -> Obj:
    """``BUILT`` as the API server returns it: server fields added, then ``changes``."""
    found = copy.deepcopy(BUILT)
    found["metadata"] |= {"uid": "u", "resourceVersion": "7", "managedFields": [{}]}
    found["metadata"]["labels"]["extra"] = "kept"
    found["spec"]["behavior"] = {"scaleUp": {"stabilizationWindowSeconds": 0}}  # defaulted
    found["status"] = {"currentReplicas": 1}
    for key, value in changes.items():
        found["spec"][key] = value
    return found


def test_in_place_ignores_what_the_server_or_others_add() -> None:
    assert in_place(served(), BUILT)


@pytest.mark.parametrize(
    "found",
    [
        served(minReplicas=2),
        served(maxReplicas=4),
        served(metrics=[]),
        served(metrics=[{**BUILT["spec"]["metrics"][0], "extra": 1}]),  # a field dropped
        served(scaleTargetRef={"kind": "Deployment", "name": "other"}),
    ],
)
def test_in_place_sees_any_field_of_ours_that_differs(found: Obj) -> None:
    assert not in_place(found, BUILT)


def test_in_place_sees_labels_and_owner_references() -> None:
    lost_label = served()
    del lost_label["metadata"]["labels"]["track"]
    other_owner = served()
    other_owner["metadata"]["ownerReferences"] = [{**OWNER.reference(), "uid": "other"}]
    assert not in_place(lost_label, BUILT)
    assert not in_place(other_owner, BUILT)
    annotated = {**BUILT, "metadata": {**BUILT["metadata"], "annotations": {"a": "1"}}}
    assert not in_place(served(), annotated)
