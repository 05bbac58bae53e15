"""Which effects run side by side (``parallel.stages``) and how (``side_by_side``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from controller.appliers import delete_canary
from controller.kube import DEPLOYMENTS, HPAS, SERVICES
from controller.parallel import side_by_side, stages
from controller.rollout import actions as act
from controller.runtime import Runtime
from controller.target import Target
from tests.unit.controller.factories import OWNER, spec
from tests.unit.controller.kube_store import BODY, KubeStore

pytestmark = pytest.mark.unit

RESTORE = act.RestoreStableHPAMin("stable-hpa", 2)


ALIAS = act.MoveAlias("m", "3", "champion")
TAGS = act.TagVersion("m", "3", {"rollout.verdict": "promoted"})


def test_stages_put_the_floor_and_the_records_beside_the_canary_clean_up() -> None:
    promoted = [act.SetWeight(0), act.DeleteCanary(), RESTORE, ALIAS, TAGS]
    assert stages(promoted) == [
        [[act.SetWeight(0)]],
        [[act.DeleteCanary()], [RESTORE], [ALIAS, TAGS]],  # alias, then tags, in turn
    ]
    rolled_back = [act.SetWeight(0), act.ScaleCanaryDown(), RESTORE]
    assert stages(rolled_back) == [[[act.SetWeight(0)]], [[act.ScaleCanaryDown()], [RESTORE]]]
    failed = [act.SetWeight(0), act.ScaleCanaryDown(), TAGS]
    assert stages(failed) == [[[act.SetWeight(0)]], [[act.ScaleCanaryDown()], [TAGS]]]


def test_stages_keep_everything_else_in_turn() -> None:
    effects: list[Any] = [act.SetWeight(0), RESTORE, ALIAS, act.DeleteCanary()]
    assert stages(effects) == [[[a]] for a in effects]  # the route write is never joined
    cleanups: list[Any] = [act.DeleteCanary(), act.ScaleCanaryDown(), act.SetWeight(0), TAGS]
    assert stages(cleanups) == [[[a]] for a in cleanups]
    assert stages([]) == []


def test_side_by_side_runs_at_once_and_keeps_the_order() -> None:
    both = threading.Barrier(2, timeout=10)  # passes only when both calls run at once

    def call(value: int) -> int:
        both.wait()
        return value

    with ThreadPoolExecutor(2) as pool:
        assert side_by_side(pool, [lambda: call(1), lambda: call(2)]) == [1, 2]


def test_side_by_side_waits_for_every_call_before_raising() -> None:
    finished: list[str] = []
    release = threading.Event()

    def fails() -> None:
        raise ValueError("first")

    def slow() -> str:
        assert release.wait(10), "never released"
        finished.append("slow")
        return "slow"

    with ThreadPoolExecutor(2) as pool:
        timer = threading.Timer(0.05, release.set)
        timer.start()
        with pytest.raises(ValueError, match="first"):
            side_by_side(pool, [fails, slow])
        timer.cancel()
    assert finished == ["slow"]


def test_side_by_side_in_turn_without_a_pool() -> None:
    order: list[int] = []
    assert side_by_side(None, [lambda: order.append(1), lambda: order.append(2)]) == [None, None]
    assert order == [1, 2]


def test_delete_canary_deletes_the_hpa_first_then_the_rest_side_by_side() -> None:
    def owned(name: str) -> dict[str, Any]:
        meta = {"name": name, "uid": f"{name}-uid", "ownerReferences": [OWNER.reference()]}
        return {"metadata": meta, "spec": {}}

    rollout = spec()
    store = KubeStore(
        (HPAS, owned(rollout.canary_name)),
        (DEPLOYMENTS, owned(rollout.canary_name)),
        (SERVICES, owned(rollout.canary_service)),
    )
    with ThreadPoolExecutor(2) as pool:
        runtime = cast(Runtime, type("R", (), {"kube": store, "writes": pool})())
        delete_canary(Target(runtime, BODY, rollout), act.DeleteCanary())
    assert store.writes[0] == "delete horizontalpodautoscalers"
    assert sorted(store.writes[1:]) == ["delete deployments", "delete services"]
    assert store.objs == {}
