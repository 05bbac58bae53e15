"""The ModelRollout being reconciled, with its parsed spec and the adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.builders import Owner
from controller.kube import Resource
from controller.runtime import Runtime
from controller.spec import RolloutSpec

Obj = dict[str, Any]


class MissingObject(Exception):
    """An object the rollout needs (target Deployment, Service, route) does not exist."""


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

    def need(self, res: Resource, name: str) -> Obj:
        found = self.runtime.kube.get(res, self.ns, name)
        if found is None:
            raise MissingObject(f"{res.plural}/{name} not found in {self.ns}")
        return found
