"""``appliers.set_mirror``: the HTTPRoute read-modify-write, verified after writing, and
the Ingress router (no mirror) — with a dict-backed stand-in for ``Kube.modify``."""

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


def test_the_ingress_router_has_no_mirror() -> None:
    kube = RouteStore(ROUTE)
    ingress = target(kube, router={"ingress": {"name": "inference"}})
    set_mirror(ingress, SetMirror(0))  # removing one: nothing to do
    assert kube.writes == 0
    with pytest.raises(MissingObject, match=r"router\.httpRoute"):
        set_mirror(ingress, SetMirror(100))
