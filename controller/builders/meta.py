"""Shared pieces of every built object: owner references, labels and container env."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from controller import GROUP, KIND, VERSION

TRACK = "track"
ROLLOUT_LABEL = f"{GROUP}/rollout"
MANAGED_BY = {"app.kubernetes.io/managed-by": "modelrollout-controller"}
MODEL_URI = "MODEL_URI"
BASELINE_MODEL_URI = "BASELINE_MODEL_URI"  # the stable version a canary pod scores beside
TRACK_ENV = ("TRACK", "INFERENCE_TRACK")
SHADOW_ENV = "INFERENCE_SHADOW"  # a shadow pod (mirrored copies only): records no decision
SHADOW_NAMES = (SHADOW_ENV, "SHADOW")  # the names the inference service reads

Obj = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The ModelRollout that owns the canary objects (garbage-collected with it)."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> Obj:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def metadata(self, name: str, labels: dict[str, str] | None = None) -> Obj:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": {**(labels or {}), **MANAGED_BY, ROLLOUT_LABEL: self.name},
            "ownerReferences": [self.reference()],
        }


def controlled_by(obj: Obj, uid: str) -> bool:
    """Whether ``obj``'s controller owner reference is the ModelRollout with ``uid``."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(
        ref.get("controller") is True and ref.get("kind") == KIND and ref.get("uid") == uid
        for ref in refs
    )


def container(pod_spec: Obj, name: str | None) -> Obj:
    """The container called ``name`` (default: the first one)."""
    containers = pod_spec.get("containers") or []
    for item in containers:
        if name is None or item.get("name") == name:
            return item
    raise ValueError(f"no container {name!r} in the pod template")


def env_value(deployment: Obj, key: str, name: str | None = None) -> str | None:
    """A literal env value of a Deployment's container (``None`` if unset or not literal)."""
    try:
        found = container(deployment["spec"]["template"]["spec"], name)
    except (KeyError, ValueError):
        return None
    return next((e.get("value") for e in found.get("env") or [] if e.get("name") == key), None)


def with_env(item: Obj, values: dict[str, str]) -> Obj:
    """A copy of container ``item`` whose env has ``values`` set (others kept in order)."""
    item = copy.deepcopy(item)
    env = [e for e in item.get("env") or [] if e.get("name") not in values]
    item["env"] = env + [{"name": key, "value": value} for key, value in values.items()]
    return item


def _holds(found: Obj | None, wanted: Obj) -> bool:
    return all((found or {}).get(key) == value for key, value in wanted.items())


def in_place(found: Obj, built: Obj) -> bool:
    """Whether an apply of the built object ``built`` would change nothing in ``found``:
    its labels and annotations present with the same values, its owner references the
    same, and each field it sets under ``spec`` (or another top-level field) exactly equal,
    nested values included. Fields only ``found`` has (set by the server or by others) do
    not count; a value the server defaulted inside one of ours, or a nested field an earlier
    apply set and this one drops, makes it ``False`` (then it is applied, as always). Meant
    for builders that always set the same top-level ``spec`` fields (``canary_hpa``)."""
    meta, have = built.get("metadata") or {}, found.get("metadata") or {}
    if not _holds(have.get("labels"), meta.get("labels") or {}):
        return False
    if not _holds(have.get("annotations"), meta.get("annotations") or {}):
        return False
    if meta.get("ownerReferences") != have.get("ownerReferences"):
        return False
    for key, value in built.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if isinstance(value, dict) and isinstance(found.get(key), dict):
            if not _holds(found[key], value):
                return False
        elif found.get(key) != value:
            return False
    return True
