"""Independent writes of one action run side by side, and the action still ends only once
every write has (a failure is raised after the others finished)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from controller.appliers import _together, delete_canary
from controller.kube import DEPLOYMENTS, HPAS, SERVICES, Resource
from controller.rollout import actions as act
from controller.runtime import Runtime
from controller.target import Target
from tests.unit.controller.factories import OWNER, spec

pytestmark = pytest.mark.unit

BODY = {"metadata": {"name": OWNER.name, "namespace": OWNER.namespace, "uid": OWNER.uid}}


class Store:
    def __init__(self, names: list[tuple[str, str]]) -> None:
        meta = {"ownerReferences": [OWNER.reference()], "uid": "x"}
        self.objs = {key: {"metadata": {**meta, "name": key[1]}} for key in names}
        self.deleted: list[str] = []
        self._lock = threading.Lock()

    def get(self, res: Resource, ns: str, name: str) -> Any:
        return self.objs.get((res.plural, name))

    def delete(self, res: Resource, ns: str, name: str, uid: str | None = None) -> bool:
        with self._lock:
            self.deleted.append(res.plural)
        return True


def _target(store: Store, pool: ThreadPoolExecutor | None) -> Target:
    runtime = cast(Runtime, type("R", (), {"kube": store, "reads": pool})())
    return Target(runtime, BODY, spec())


def test_the_canary_objects_are_all_deleted_side_by_side() -> None:
    names = [(HPAS.plural, "inference-canary"), (DEPLOYMENTS.plural, "inference-canary")]
    store = Store([*names, (SERVICES.plural, "inference-canary")])
    with ThreadPoolExecutor(4) as pool:
        delete_canary(_target(store, pool), act.DeleteCanary())
    assert sorted(store.deleted) == ["deployments", "horizontalpodautoscalers", "services"]


def test_a_failed_write_is_raised_after_the_others_finished() -> None:
    done: list[str] = []
    release = threading.Event()

    def slow() -> None:
        assert release.wait(10), "never released"
        done.append("slow")

    def failing() -> None:
        release.set()
        raise OSError("refused")

    with ThreadPoolExecutor(2) as pool, pytest.raises(OSError, match="refused"):
        _together(_target(Store([]), pool), failing, slow)
    assert done == ["slow"]


def test_without_threads_the_writes_run_in_turn() -> None:
    order: list[int] = []
    _together(_target(Store([]), None), lambda: order.append(1), lambda: order.append(2))
    assert order == [1, 2]
