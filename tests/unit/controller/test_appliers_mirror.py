"""``appliers.set_mirror``: the HTTPRoute read-modify-write, verified after writing, and
ingress-nginx's mirror annotation on the stable Ingress — with dict-backed stand-ins for
``Kube.modify``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast

import pytest

from controller.appliers import set_mirror
from controller.builders import route_mirror
from controller.kube import KubeError, Resource
from controller.rollout.actions import SetMirror
from controller.runtime import Runtime
from controller.target import MissingObject, Target
from tests.unit.controller.factories import spec

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
BODY = {"metadata": {"name": "credit-default", "namespace": "credit-risk", "uid": "uid-1"}}
ROUTE = {
    "metadata": {"name": "inference", "resourceVersion": "1"},
    "spec": {"rules": [{"backendRefs": [{"name": "inference", "port": 80}]}]},
}


class RouteStore:
    """Only what set_mirror uses: ``modify`` on one stored route (or none)."""

    def __init__(self, route: Obj | None, ignore_writes: bool = False) -> None:
        self.route, self.ignore, self.writes = copy.deepcopy(route), ignore_writes, 0

    def modify(
        self, res: Resource, ns: str, name: str, change: Callable[[Obj], Obj | None]
    ) -> Obj | None:
        if self.route is None or name != self.route["metadata"]["name"]:
            return None
        patch = change(self.route)
        if patch is not None and not self.ignore:
            self.writes += 1
            self.route = {**self.route, "spec": {**self.route["spec"], **patch["spec"]}}
        return self.route


def target(kube: RouteStore, **overrides: Any) -> Target:
    runtime = cast(Runtime, type("R", (), {"kube": kube})())
    return Target(runtime, BODY, spec(**overrides))


def test_mirror_on_then_off_writes_once_each() -> None:
    kube = RouteStore(ROUTE)
    set_mirror(target(kube), SetMirror(40))
    assert kube.route is not None
    assert route_mirror(kube.route, "inference-canary") == 40
    set_mirror(target(kube), SetMirror(40))  # nothing to change: no write
    assert kube.writes == 1
    set_mirror(target(kube), SetMirror(0))
    assert kube.route["spec"]["rules"] == ROUTE["spec"]["rules"]
    assert kube.writes == 2


def test_a_route_that_did_not_take_the_mirror_is_an_error() -> None:
    with pytest.raises(KubeError, match="did not take mirror 100%"):
        set_mirror(target(RouteStore(ROUTE, ignore_writes=True)), SetMirror(100))


def test_a_missing_route_fails_on_and_is_fine_off() -> None:
    with pytest.raises(MissingObject, match="HTTPRoute inference not found"):
        set_mirror(target(RouteStore(None)), SetMirror(100))
    set_mirror(target(RouteStore(None)), SetMirror(0))


INGRESS = {
    "metadata": {"name": "inference", "resourceVersion": "1"},
    "spec": {
        "rules": [
            {
                "http": {
                    "paths": [
                        {"path": "/", "backend": {"service": {"name": "inference", "port": {}}}}
                    ]
                }
            }
        ]
    },
}
CANARY_SERVICE = {
    "metadata": {
        "name": "inference-canary",
        "ownerReferences": [{"kind": "ModelRollout", "uid": "uid-1", "controller": True}],
    },
    "spec": {"ports": [{"name": "http", "port": 8080}]},
}


class IngressStore:
    """``modify`` on one stored Ingress (annotations merged, ``None`` removes one) and
    ``get`` of the canary Service (for a named port)."""

    def __init__(self, ingress: Obj) -> None:
        self.ingress, self.writes = copy.deepcopy(ingress), 0

    def get(self, res: Resource, ns: str, name: str) -> Obj | None:
        return copy.deepcopy(CANARY_SERVICE) if name == "inference-canary" else None

    def modify(
        self, res: Resource, ns: str, name: str, change: Callable[[Obj], Obj | None]
    ) -> Obj | None:
        patch = change(self.ingress)
        if patch is not None:
            self.writes += 1
            notes = {**(self.ingress["metadata"].get("annotations") or {})}
            notes.update(patch["metadata"]["annotations"])
            self.ingress["metadata"]["annotations"] = {
                k: v for k, v in notes.items() if v is not None
            }
        return self.ingress


def _ingress(port: Obj) -> Obj:
    found = copy.deepcopy(INGRESS)
    found["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = port
    return found


@pytest.mark.parametrize(("port", "number"), [({"number": 8000}, 8000), ({"name": "http"}, 8080)])
def test_ingress_nginx_mirrors_to_the_canary_service_then_stops(port: Obj, number: int) -> None:
    kube = IngressStore(_ingress(port))
    ingress = target(cast(Any, kube), router={"ingress": {"name": "inference"}})
    set_mirror(ingress, SetMirror(100))
    notes = kube.ingress["metadata"]["annotations"]
    assert notes == {
        "nginx.ingress.kubernetes.io/mirror-target": (
            f"http://inference-canary.credit-risk.svc.cluster.local:{number}$request_uri"
        )
    }
    set_mirror(ingress, SetMirror(100))  # nothing to change: no write
    set_mirror(ingress, SetMirror(0))
    assert kube.ingress["metadata"]["annotations"] == {}
    assert kube.writes == 2


def test_an_ingress_without_the_stable_backend_cannot_mirror() -> None:
    kube = IngressStore(_ingress({"name": "grpc"}))  # no such port on the Service
    ingress = target(cast(Any, kube), router={"ingress": {"name": "inference"}})
    with pytest.raises(MissingObject, match="no backend port for Service inference"):
        set_mirror(ingress, SetMirror(100))
    set_mirror(ingress, SetMirror(0))  # removing: nothing to resolve
    assert kube.writes == 0


def test_shadow_with_the_ingress_router_takes_every_request_only() -> None:
    spec(shadow={"enabled": True}, router={"ingress": {"name": "inference"}})
    with pytest.raises(ValueError, match=r"shadow\.percent must be 100 with router\.ingress"):
        spec(shadow={"enabled": True, "percent": 50}, router={"ingress": {"name": "inference"}})
