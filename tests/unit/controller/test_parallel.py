"""Which effects run side by side (``parallel.stages``) and how (``side_by_side``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from controller.appliers import delete_canary, ensure_canary, scale_canary
from controller.executor import execute
from controller.kube import BY_KIND, DEPLOYMENTS, HPAS, INGRESSES, SERVICES
from controller.parallel import side_by_side, stages
from controller.rollout import Decision
from controller.rollout import actions as act
from controller.runtime import Runtime
from controller.status import RolloutStatus
from controller.target import NotOwned, Target
from tests.unit.controller.factories import CANDIDATE_URI, OWNER, spec
from tests.unit.controller.kube_store import BODY, KubeStore
from tests.unit.controller.test_appliers_noop import hpa, service, stable

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


ENSURE = act.EnsureCanary(CANDIDATE_URI, 2)
SCALE = act.ScaleCanary(2, 4)


def test_stages_put_the_canary_hpa_beside_the_canary_made() -> None:
    initializing = [ENSURE, SCALE]
    assert stages(initializing) == [[[ENSURE], [SCALE]]]
    first_step: list[Any] = [SCALE, act.SetWeight(25)]  # capacity, then traffic: in turn
    assert stages(first_step) == [[[a]] for a in first_step]
    after: list[Any] = [ENSURE, SCALE, act.SetWeight(25)]  # the route write never joins
    assert stages(after) == [[[ENSURE], [SCALE]], [[act.SetWeight(25)]]]
    apart: list[Any] = [ENSURE, act.SetMirror(0), SCALE]  # only right after it
    assert stages(apart) == [[[a]] for a in apart]


HOLD = act.HoldStableHPAMin("inference", 4, 2)


def test_stages_put_the_analysis_tags_beside_the_stable_floor_held() -> None:
    promoting: list[Any] = [act.SetMirror(0), HOLD, TAGS]  # a promotion entered
    assert stages(promoting) == [[[act.SetMirror(0)]], [[HOLD], [TAGS]]]
    advanced: list[Any] = [SCALE, act.SetWeight(50), TAGS]  # after a route write: in turn
    assert stages(advanced) == [[[a]] for a in advanced]
    no_hpa: list[Any] = [act.SetMirror(0), TAGS]  # no floor to hold: the tags in turn
    assert stages(no_hpa) == [[[a]] for a in no_hpa]


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


def _owned(name: str) -> dict[str, Any]:
    meta = {"name": name, "uid": f"{name}-uid", "ownerReferences": [OWNER.reference()]}
    return {"metadata": meta, "spec": {}}


def _canary_objects(rollout: Any) -> tuple[tuple[Any, dict[str, Any]], ...]:
    """The canary's HPA, Deployment and Service, owned by the rollout."""
    return (
        (HPAS, _owned(rollout.canary_name)),
        (DEPLOYMENTS, _owned(rollout.canary_name)),
        (SERVICES, _owned(rollout.canary_service)),
    )


class WaitingStore(KubeStore):
    """A store whose write of kind ``held`` waits until a write of kind ``awaited`` has
    happened (each a ``"<verb> <plural>"``), recording whether it did before the deadline:
    True only when the two writes were in flight at once."""

    def __init__(self, held: str, awaited: str, *objs: Any) -> None:
        super().__init__(*objs)
        self.held, self.awaited = held, awaited
        self.seen = threading.Event()
        self.overlapped: bool | None = None

    def _write(self, what: str) -> None:
        if what == self.awaited:
            self.seen.set()
        if what == self.held:
            self.overlapped = self.seen.wait(timeout=10)  # a deadline, not a timing

    def delete(self, res: Any, ns: str, name: str, uid: str | None = None) -> bool:
        self._write(f"delete {res.plural}")
        return super().delete(res, ns, name, uid)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._write(f"apply {BY_KIND[obj['kind']].plural}")
        return super().apply(obj)


class BarrierStore(KubeStore):
    """A store whose deletes each wait at one barrier of ``parties``: they pass (before the
    deadline) only when that many deletes are in flight at once; ``overlapped`` records
    whether they did."""

    def __init__(self, parties: int, *objs: Any) -> None:
        super().__init__(*objs)
        self.barrier = threading.Barrier(parties, timeout=10)  # a deadline, not a timing
        self.overlapped = True

    def delete(self, res: Any, ns: str, name: str, uid: str | None = None) -> bool:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            self.overlapped = False
        return super().delete(res, ns, name, uid)


def _delete_with_pool(store: KubeStore, rollout: Any) -> None:
    with ThreadPoolExecutor(4) as pool:
        runtime = cast(Runtime, type("R", (), {"kube": store, "writes": pool})())
        delete_canary(Target(runtime, BODY, rollout), act.DeleteCanary())


def test_delete_canary_deletes_the_hpa_the_deployment_and_the_service_at_once() -> None:
    rollout = spec()
    store = BarrierStore(3, *_canary_objects(rollout))
    _delete_with_pool(store, rollout)
    assert store.overlapped  # all three in flight together: one round trip, not two
    assert sorted(store.writes) == [
        "delete deployments",
        "delete horizontalpodautoscalers",
        "delete services",
    ]
    assert store.objs == {}


def test_delete_canary_deletes_the_canary_ingress_beside_them() -> None:
    rollout = spec(router={"ingress": {"name": "inference"}})
    ingress = (INGRESSES, _owned("inference-canary"))
    store = BarrierStore(4, *_canary_objects(rollout), ingress)
    _delete_with_pool(store, rollout)
    assert store.overlapped  # the four deletes in flight together
    assert "delete ingresses" in store.writes
    assert store.objs == {}


def test_delete_canary_in_turn_without_a_pool() -> None:
    rollout = spec()
    store = KubeStore(*_canary_objects(rollout))
    runtime = cast(Runtime, type("R", (), {"kube": store, "writes": None})())
    delete_canary(Target(runtime, BODY, rollout), act.DeleteCanary())
    assert store.writes == [
        "delete horizontalpodautoscalers",
        "delete deployments",
        "delete services",
    ]


def test_ensure_canary_applies_the_service_beside_the_deployment() -> None:
    store = WaitingStore(
        "apply deployments", "apply services", (DEPLOYMENTS, stable()), (SERVICES, service())
    )
    with ThreadPoolExecutor(2) as pool:
        runtime = cast(Runtime, type("R", (), {"kube": store, "writes": pool})())
        ensure_canary(Target(runtime, BODY, spec()), act.EnsureCanary(CANDIDATE_URI, 2))
    assert store.overlapped  # the Service applied while the Deployment's apply was in flight
    assert sorted(store.writes) == ["apply deployments", "apply services", "patch deployments"]
    # the replicas patch follows the Deployment's own apply
    assert store.writes.index("apply deployments") < store.writes.index("patch deployments")
    assert store.objs[(DEPLOYMENTS.plural, "inference-canary")]["spec"]["replicas"] == 2


def test_the_executor_applies_the_canary_hpa_beside_its_deployment() -> None:
    store = WaitingStore(
        "apply deployments",
        "apply horizontalpodautoscalers",
        (DEPLOYMENTS, stable()),
        (SERVICES, service()),
    )
    with ThreadPoolExecutor(3) as pool:
        stub = {"kube": store, "writes": pool, "events": None}
        runtime = cast(Runtime, type("R", (), stub)())
        target = Target(runtime, BODY, spec())
        decision = Decision(RolloutStatus(), (ENSURE, SCALE))
        execute(target, RolloutStatus(), decision, datetime.now(UTC), record=False)
    assert store.overlapped  # the Deployment applied while the HPA's apply was in flight
    assert sorted(store.writes) == [
        "apply deployments",
        "apply horizontalpodautoscalers",
        "apply services",
        "patch deployments",
    ]


@pytest.mark.parametrize("res", [DEPLOYMENTS, SERVICES])
def test_the_canary_hpa_is_not_made_when_a_canary_name_is_someone_elses(res: Any) -> None:
    rollout = spec()
    name = rollout.canary_name if res is DEPLOYMENTS else rollout.canary_service
    store = KubeStore((res, {"metadata": {"name": name, "uid": "x"}, "spec": {}}))
    runtime = cast(Runtime, type("R", (), {"kube": store, "writes": None})())
    with pytest.raises(NotOwned):
        scale_canary(Target(runtime, BODY, rollout), SCALE)
    assert store.writes == []  # refused before the apply, even run beside ensure_canary


class TaggedStore(KubeStore):
    """A store whose HPA patch waits (with a deadline) for the registry's tag write:
    ``overlapped`` is True only when the two were in flight at once."""

    def __init__(self, *objs: Any) -> None:
        super().__init__(*objs)
        self.tagged = threading.Event()
        self.overlapped: bool | None = None

    def patch(self, res: Any, ns: str, name: str, body: Any, *args: Any, **kw: Any) -> Any:
        self.overlapped = self.tagged.wait(timeout=10)  # a deadline, not a timing
        return super().patch(res, ns, name, body, *args, **kw)

    def tag(self, name: str, version: str, tags: dict[str, str]) -> int:
        self.tagged.set()
        return len(tags)


def test_the_executor_tags_the_version_beside_holding_the_stable_floor() -> None:
    store = TaggedStore((HPAS, hpa(2)))
    with ThreadPoolExecutor(2) as pool:
        stub = {"kube": store, "registry": store, "writes": pool, "events": None}
        target = Target(cast(Runtime, type("R", (), stub)()), BODY, spec())
        decision = Decision(RolloutStatus(), (HOLD, TAGS))
        execute(target, RolloutStatus(), decision, datetime.now(UTC), record=False)
    assert store.overlapped  # the floor's patch in flight while the tags were written
    assert store.writes == ["patch horizontalpodautoscalers"]
    assert store.objs[(HPAS.plural, "inference")]["spec"]["minReplicas"] == 4
