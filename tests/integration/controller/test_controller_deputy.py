"""Attack (issue 16): the controller is not a confused deputy: replayed as a ModelRollout
author who wants it to overwrite or delete objects they could not touch themselves.

Against a real kube-apiserver, the operator (kopf) running under its own ServiceAccount:
- a Service or Deployment squatting on a canary name is neither patched nor deleted, and
  the rollout does not start (on the old main it was force-applied, then deleted);
- ``router.httpRoute.canaryService`` naming another Service is refused (the name is derived).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from controller.kube import DEPLOYMENTS, ROLLOUTS, SERVICES
from tests.integration.controller.cluster import NS
from tests.integration.controller.test_operator_apiserver import Harness, admin, cp, harness
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration
__all__ = ["admin", "cp", "harness"]  # fixtures, used by name (rollout_models: conftest)
Obj = dict[str, Any]


def _squatter_service(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "labels": {"owner": "someone-else"}},
        "spec": {"selector": {"app": "payments"}, "ports": [{"port": 443}]},
    }


def _squatter_deployment(name: str) -> Obj:
    labels = {"app": "payments"}
    pod = {"containers": [{"name": "payments", "image": "payments:1"}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def _unchanged(h: Harness, res: Any, name: str, before: Obj) -> None:
    after = h.need(res, name)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    # generation and spec, not resourceVersion: the fake kubelet writes Deployment status
    assert after["metadata"].get("generation") == before["metadata"].get("generation")
    assert after["spec"] == before["spec"]
    assert after["metadata"].get("labels") == before["metadata"].get("labels")
    assert not after["metadata"].get("ownerReferences")


def _delete_and_wait(h: Harness, name: str) -> None:
    h.admin.delete(ROLLOUTS, NS, name)
    wait_for(f"{name} deleted", lambda: h.admin.get(ROLLOUTS, NS, name) is None)


def test_a_squatted_canary_service_is_left_alone(harness: Harness) -> None:
    h = harness
    before = h.admin.apply(_squatter_service("sq-svc-canary"))
    h.start("mro-sq-svc", "sq-svc", h.models.uri(h.models.new_version()))
    time.sleep(3)  # ~10 ticks: every one refuses before its first write
    _unchanged(h, SERVICES, "sq-svc-canary", before)
    assert h.admin.get(DEPLOYMENTS, NS, "sq-svc-canary") is None  # nothing half-made
    assert h.weights("sq-svc") == [100]
    _delete_and_wait(h, "mro-sq-svc")
    _unchanged(h, SERVICES, "sq-svc-canary", before)  # the finalizer did not delete it


def test_a_squatted_canary_deployment_is_left_alone(harness: Harness) -> None:
    h = harness
    before = h.admin.apply(_squatter_deployment("sq-dep-canary"))
    h.start("mro-sq-dep", "sq-dep", h.models.uri(h.models.new_version()))
    time.sleep(3)  # not a wait: ~10 ticks pass, none of them may touch it
    _unchanged(h, DEPLOYMENTS, "sq-dep-canary", before)
    assert h.admin.get(SERVICES, NS, "sq-dep-canary") is None
    _delete_and_wait(h, "mro-sq-dep")
    _unchanged(h, DEPLOYMENTS, "sq-dep-canary", before)


def test_a_canary_service_name_from_the_spec_is_refused(harness: Harness) -> None:
    h = harness
    victim = h.admin.apply(_squatter_service("victim"))
    router = {"httpRoute": {"name": "named", "canaryService": "victim"}}
    h.start("mro-named", "named", h.models.uri(h.models.new_version()), router=router)
    time.sleep(3)  # not a wait: ~10 ticks pass, none of them may touch it
    _unchanged(h, SERVICES, "victim", victim)
    assert h.admin.get(DEPLOYMENTS, NS, "named-canary") is None
    assert (h.get("mro-named").get("status") or {}).get("phase") != "Progressing"
    _delete_and_wait(h, "mro-named")
    _unchanged(h, SERVICES, "victim", victim)


def test_its_own_canary_objects_are_still_managed(harness: Harness) -> None:
    """The check does not get in the way: a normal rollout creates and cleans up."""
    h = harness
    h.start(
        "mro-own",
        "own",
        h.models.uri(h.models.new_version()),
        canary={"steps": [20, 50], "interval": "1h", "progressDeadline": "20s"},
    )
    h.wait_phase("mro-own", "Progressing")
    assert h.weights("own") == [80, 20]
    _delete_and_wait(h, "mro-own")
    for res in (DEPLOYMENTS, SERVICES):
        assert h.admin.get(res, NS, "own-canary") is None
