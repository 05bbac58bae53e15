"""A dict-backed stand-in for ``controller.kube.Kube`` in the appliers' unit tests: objects
by (plural, name), kept as the API server would (applies and merge patches merged in, a
new Deployment defaulted to one replica, server fields added), and every write recorded
as ``"<verb> <plural>"`` so a test can say which writes a decision made or skipped."""

from __future__ import annotations

import copy
from typing import Any, cast

from controller.kube import BY_KIND, DEPLOYMENTS, Resource
from controller.runtime import Runtime
from controller.spec import RolloutSpec
from controller.target import Target
from tests.unit.controller.factories import OWNER, spec

Obj = dict[str, Any]
BODY = {"metadata": {"name": OWNER.name, "namespace": OWNER.namespace, "uid": OWNER.uid}}


class KubeStore:
    def __init__(self, *objs: tuple[Resource, Obj]) -> None:
        self.objs = {(res.plural, o["metadata"]["name"]): copy.deepcopy(o) for res, o in objs}
        self.writes: list[str] = []

    def get(self, res: Resource, ns: str, name: str) -> Obj | None:
        return copy.deepcopy(self.objs.get((res.plural, name)))

    def apply(self, obj: Obj) -> Obj:
        res = BY_KIND[obj["kind"]]
        self.writes.append(f"apply {res.plural}")
        name = obj["metadata"]["name"]
        known = self.objs.get((res.plural, name)) or {}
        stored = copy.deepcopy(obj)
        stored["metadata"].setdefault("uid", f"{res.plural}-uid")
        if res is DEPLOYMENTS:  # replicas left to the HPA: kept, or defaulted
            stored["spec"]["replicas"] = known.get("spec", {}).get("replicas", 1)
        stored["status"] = copy.deepcopy(known.get("status")) or {"currentReplicas": 1}
        self.objs[(res.plural, name)] = stored
        return copy.deepcopy(stored)

    def patch(self, res: Resource, ns: str, name: str, body: Obj, *args: Any, **kw: Any) -> Obj:
        self.writes.append(f"patch {res.plural}")
        found = self.objs[(res.plural, name)]
        found.setdefault("spec", {}).update(body.get("spec") or {})
        notes = (body.get("metadata") or {}).get("annotations") or {}
        kept = found["metadata"].setdefault("annotations", {})
        for key, value in notes.items():
            if value is None:
                kept.pop(key, None)
            else:
                kept[key] = value
        return copy.deepcopy(found)

    def delete(self, res: Resource, ns: str, name: str, uid: str | None = None) -> bool:
        self.writes.append(f"delete {res.plural}")
        return self.objs.pop((res.plural, name), None) is not None


def target(store: KubeStore, rollout: RolloutSpec | None = None) -> Target:
    runtime = cast(Runtime, type("R", (), {"kube": store, "writes": None})())  # in turn
    return Target(runtime, BODY, rollout or spec())
