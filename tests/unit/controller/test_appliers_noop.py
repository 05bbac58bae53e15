"""Writes skipped because they would change nothing in the object as read (the watch
cache): the stable HPA floor held or given back twice, the stable promoted twice, the new
canary's replicas already at the API's default, the canary Service already in place —
pure predicates first, then the appliers against a dict-backed stand-in for ``Kube``."""

from __future__ import annotations

from typing import Any

import pytest

from controller.appliers import ensure_canary, hold_hpa, needs_replicas, promote_stable, restore_hpa
from controller.builders import HELD_FROM, floor_in_place, promoted
from controller.builders.meta import MODEL_URI
from controller.kube import DEPLOYMENTS, HPAS, SERVICES
from controller.rollout.actions import (
    EnsureCanary,
    HoldStableHPAMin,
    PromoteStable,
    RestoreStableHPAMin,
)
from tests.unit.controller.factories import CANDIDATE_URI, STABLE_URI, spec
from tests.unit.controller.kube_store import KubeStore, target

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def hpa(min_replicas: int | None = 2, held: str | None = None) -> Obj:
    annotations = {} if held is None else {HELD_FROM: held}
    spec_: Obj = {"maxReplicas": 10}
    if min_replicas is not None:
        spec_["minReplicas"] = min_replicas
    return {"metadata": {"name": "inference", "annotations": annotations}, "spec": spec_}


def stable(uri: str = STABLE_URI) -> Obj:
    env = [{"name": "A", "value": "1"}, {"name": MODEL_URI, "value": uri}]
    labels = {"app": "inference"}
    return {
        "metadata": {"name": "inference", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "inference", "image": "i:1", "env": env}]},
            },
        },
    }


def service() -> Obj:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8000}]
    return {
        "metadata": {"name": "inference", "labels": {"app": "inference"}},
        "spec": {"type": "ClusterIP", "selector": {"app": "inference"}, "ports": ports},
    }


# ------------------------------------------------------------------------ predicates
def test_floor_in_place_needs_the_floor_and_the_recorded_original() -> None:
    assert floor_in_place(hpa(4, held="2"), 4, 2)
    assert not floor_in_place(hpa(4), 4, 2)  # floor raised by someone, original not kept
    assert not floor_in_place(hpa(3, held="2"), 4, 2)
    assert not floor_in_place(hpa(4, held="1"), 4, 2)
    assert floor_in_place(hpa(2), 2, None)  # given back, annotation gone
    assert not floor_in_place(hpa(2, held="2"), 2, None)  # annotation still there
    assert floor_in_place(hpa(None), 1, None)  # absent minReplicas is the default, 1
    assert not floor_in_place(None, 2, None)


def test_promoted_reads_the_stable_containers_model_uri() -> None:
    assert promoted(stable(CANDIDATE_URI), spec(), CANDIDATE_URI)
    assert not promoted(stable(), spec(), CANDIDATE_URI)
    from_secret = stable()
    env = from_secret["spec"]["template"]["spec"]["containers"][0]["env"]
    env[1] = {"name": MODEL_URI, "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    assert not promoted(from_secret, spec(), CANDIDATE_URI)
    assert not promoted({"spec": {}}, spec(), CANDIDATE_URI)


def test_promoted_reads_the_target_container_not_the_first() -> None:
    two = stable()
    sidecar = {
        "name": "proxy",
        "image": "p:1",
        "env": [{"name": MODEL_URI, "value": CANDIDATE_URI}],
    }
    two["spec"]["template"]["spec"]["containers"].insert(0, sidecar)
    named = spec(targetRef={"name": "inference", "container": "inference"})
    assert promoted(two, named, STABLE_URI)
    assert not promoted(two, named, CANDIDATE_URI)  # only the sidecar has it
    assert promoted(two, spec(), CANDIDATE_URI)  # no container named: the first one
    missing = spec(targetRef={"name": "inference", "container": "absent"})
    assert not promoted(two, missing, STABLE_URI)


@pytest.mark.parametrize(
    ("existing", "applied", "replicas", "needed"),
    [
        (None, {"spec": {"replicas": 1}}, 1, False),  # new: the API's default is the count
        (None, {"spec": {"replicas": 1}}, 2, True),
        (None, {"spec": {}}, 1, True),  # an answer without the count: write it
        ({"spec": {"replicas": 0}}, {"spec": {"replicas": 0}}, 1, True),  # scaled to zero
        ({"spec": {"replicas": 0}}, {"spec": {"replicas": 1}}, 1, False),
        ({"spec": {"replicas": 3}}, {"spec": {"replicas": 3}}, 1, False),  # HPA's count kept
    ],
)
def test_needs_replicas(existing: Obj | None, applied: Obj, replicas: int, needed: bool) -> None:
    assert needs_replicas(existing, applied, replicas) is needed


# ------------------------------------------------------------------------ appliers
def test_the_floor_is_held_once_and_given_back_once() -> None:
    store = KubeStore((HPAS, hpa(2)))
    hold_hpa(target(store), HoldStableHPAMin("inference", 4, 2))
    hold_hpa(target(store), HoldStableHPAMin("inference", 4, 2))  # the Promoting tick again
    assert store.writes == ["patch horizontalpodautoscalers"]
    assert floor_in_place(store.objs[(HPAS.plural, "inference")], 4, 2)
    restore_hpa(target(store), RestoreStableHPAMin("inference", 2))
    restore_hpa(target(store), RestoreStableHPAMin("inference", 2))  # e.g. after a restart
    assert store.writes == ["patch horizontalpodautoscalers"] * 2
    assert floor_in_place(store.objs[(HPAS.plural, "inference")], 2, None)


def test_a_floor_changed_by_someone_else_is_written_again() -> None:
    store = KubeStore((HPAS, hpa(4, held="2")))
    store.objs[(HPAS.plural, "inference")]["spec"]["minReplicas"] = 3
    hold_hpa(target(store), HoldStableHPAMin("inference", 4, 2))
    assert store.writes == ["patch horizontalpodautoscalers"]


def test_giving_back_the_floor_of_a_deleted_hpa_writes_nothing() -> None:
    store = KubeStore()
    restore_hpa(target(store), RestoreStableHPAMin("inference", 2))
    assert store.writes == []


def test_the_stable_is_promoted_once() -> None:
    store = KubeStore((DEPLOYMENTS, stable()))
    promote_stable(target(store), PromoteStable(CANDIDATE_URI))
    assert store.writes == ["patch deployments"]
    store.objs[(DEPLOYMENTS.plural, "inference")] = stable(CANDIDATE_URI)  # as the API has it
    promote_stable(target(store), PromoteStable(CANDIDATE_URI))
    assert store.writes == ["patch deployments"]


def test_a_new_canary_at_one_replica_is_created_without_a_replicas_patch() -> None:
    store = KubeStore((DEPLOYMENTS, stable()), (SERVICES, service()))
    ensure_canary(target(store), EnsureCanary(CANDIDATE_URI, 1))
    assert store.writes == ["apply deployments", "apply services"]
    assert store.objs[(DEPLOYMENTS.plural, "inference-canary")]["spec"]["replicas"] == 1


def test_a_new_canary_of_more_replicas_or_one_scaled_to_zero_gets_them() -> None:
    store = KubeStore((DEPLOYMENTS, stable()), (SERVICES, service()))
    ensure_canary(target(store), EnsureCanary(CANDIDATE_URI, 2))
    assert store.writes == ["apply deployments", "patch deployments", "apply services"]
    store.objs[(DEPLOYMENTS.plural, "inference-canary")]["spec"]["replicas"] = 0
    store.writes.clear()
    ensure_canary(target(store), EnsureCanary(CANDIDATE_URI, 1, shadow=True))
    # the Service applied before is in place: only the Deployment is written
    assert store.writes == ["apply deployments", "patch deployments"]
    assert store.objs[(DEPLOYMENTS.plural, "inference-canary")]["spec"]["replicas"] == 1
