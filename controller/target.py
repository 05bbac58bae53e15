"""The ModelRollout being reconciled, with its parsed spec and the adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loguru import logger

from controller.builders import Owner, controlled_by, in_place
from controller.kube import BY_KIND, Resource
from controller.runtime import Runtime
from controller.spec import RolloutSpec

Obj = dict[str, Any]


class MissingObject(Exception):
    """An object the rollout needs (target Deployment, Service, route) does not exist."""


class NotOwned(Exception):
    """A canary object's name is taken by an object this rollout did not create: the
    controller refuses to patch, overwrite or delete it (it is not a confused deputy)."""


@dataclass(frozen=True)
class Target:
    runtime: Runtime
    body: Obj
    spec: RolloutSpec

    @property
    def ns(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def owner(self) -> Owner:
        meta = self.body["metadata"]
        return Owner(meta["name"], meta["namespace"], meta["uid"])

    def owned(self, res: Resource, name: str) -> Obj | None:
        """The canary object ``name`` if this rollout controls it, ``None`` if absent;
        raises ``NotOwned`` for an object someone else made. Call before every write."""
        found = self.runtime.kube.get(res, self.ns, name)
        if found is not None and not controlled_by(found, self.owner.uid):
            raise NotOwned(
                f"{res.plural}/{name} in {self.ns} exists and is not controlled by "
                f"ModelRollout {self.name}: refusing to modify or delete it"
            )
        return found

    def apply_owned(self, obj: Obj) -> Obj:
        """Server-side apply of a canary object, after the ownership check; skipped (the
        object read is returned) when the object already holds every field of ``obj``."""
        found = self.owned(BY_KIND[obj["kind"]], obj["metadata"]["name"])
        if found is not None and in_place(found, obj):
            return found
        return self.runtime.kube.apply(obj)

    def delete_owned(self, res: Resource, name: str) -> bool:
        """Delete a canary object this rollout controls. Absent, or someone else's (left
        alone, with a warning, so the clean-up and the finalizer still finish): ``False``."""
        found = self.runtime.kube.get(res, self.ns, name)
        if found is None:
            return False
        if not controlled_by(found, self.owner.uid):
            logger.warning(
                "{}/{}: {} {} is not ours; not deleting it", self.ns, self.name, res.plural, name
            )
            return False
        return self.runtime.kube.delete(res, self.ns, name, uid=found["metadata"]["uid"])

    def need(self, res: Resource, name: str) -> Obj:
        found = self.runtime.kube.get(res, self.ns, name)
        if found is None:
            raise MissingObject(f"{res.plural}/{name} not found in {self.ns}")
        return found
