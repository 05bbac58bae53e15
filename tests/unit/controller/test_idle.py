"""A finished rollout's tick may be skipped only when ``decide`` would do nothing: every
case ``at_rest`` calls quiet is checked against ``decide`` itself, and every way a finished
rollout can act is checked to be reconciled."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from controller.cache import LatestCopies
from controller.mlflow_adapter import RegistryError
from controller.reconcile import idle
from controller.rollout import decide
from controller.rollout.idle import at_rest
from controller.settings import ControllerSettings
from controller.spec import RolloutSpec
from controller.status import HookStatus, Phase, RolloutStatus
from tests.unit.controller.factories import NOW, readings, spec, status

pytestmark = pytest.mark.unit

HOOKS = [
    {"name": "after", "type": "post-rollout", "url": "https://hooks.bank/after"},
    {"name": "gate", "type": "rollout", "url": "https://hooks.bank/gate"},
    {"name": "confirm", "type": "confirm-promotion", "url": "https://hooks.bank/ok"},
]
SENT = [HookStatus(name="after", type="post-rollout", state="Sent", time=NOW)]


def finished(phase: Phase = Phase.SUCCEEDED, **overrides: Any) -> RolloutStatus:
    return status(phase, **overrides)


def quiet(rollout: RolloutSpec, old: RolloutStatus, **kw: Any) -> bool:
    values: dict[str, Any] = {
        "generation": 1,
        "deleting": False,
        "action": None,
        "candidate": "8",
    }
    values.update(kw)
    return at_rest(rollout, old, NOW, **values)


def decides_nothing(rollout: RolloutSpec, old: RolloutStatus, **kw: Any) -> bool:
    values: dict[str, Any] = {"generation": 1, "candidate_version": "8"}
    values.update(kw)
    decision = decide(rollout, old, readings(**values), NOW)
    return decision.status.to_k8s() == old.to_k8s() and not decision.actions


@pytest.mark.parametrize("phase", [Phase.SUCCEEDED, Phase.FAILED])
@pytest.mark.parametrize(
    ("rollout", "old", "kw", "rest"),
    [
        (spec(), {}, {}, True),
        (spec(), {}, {"candidate": None}, True),  # registry down: never a restart
        (spec(webhooks=HOOKS), {"hooks": SENT}, {}, True),
        (spec(), {}, {"generation": 2}, False),  # a new spec
        (spec(), {}, {"candidate": "9"}, False),  # alias moved / new pinned version
        (spec(), {}, {"action": "retry"}, False),
        (spec(), {}, {"action": "yolo"}, False),  # answered "ignored"
        (spec(), {}, {"deleting": True}, False),
        (spec(webhooks=HOOKS), {}, {}, False),  # a post-rollout hook not sent yet
    ],
)
def test_at_rest_only_when_decide_does_nothing(
    phase: Phase, rollout: RolloutSpec, old: dict[str, Any], kw: dict[str, Any], rest: bool
) -> None:
    current = finished(phase, **old)
    assert quiet(rollout, current, **kw) is rest
    as_readings = {
        "generation": kw.get("generation", 1),
        "candidate_version": kw.get("candidate", "8"),
        "action": kw.get("action"),
        "deleting": kw.get("deleting", False),
    }
    assert decides_nothing(rollout, current, **as_readings) is rest


@pytest.mark.parametrize("phase", [p for p in Phase if p not in (Phase.SUCCEEDED, Phase.FAILED)])
def test_a_rollout_in_flight_is_never_at_rest(phase: Phase) -> None:
    assert not quiet(spec(), finished(phase))


# ------------------------------------------------------------ from kopf's copy of the body
class Registry:
    def __init__(self, version: str | None) -> None:
        self.version, self.asked = version, 0

    def resolve(self, uri: str) -> tuple[str, str]:
        self.asked += 1
        if self.version is None:
            raise RegistryError("down")
        return "credit-default", self.version


def runtime(version: str | None = "8") -> Any:
    settings = ControllerSettings(mlflow_tracking_uri="sqlite:///x.db")
    return SimpleNamespace(settings=settings, registry=Registry(version), rollouts=LatestCopies())


def body(old: RolloutStatus | None, uri: str = "models:/credit-default@challenger") -> Any:
    return {
        "metadata": {"name": "r", "namespace": "ns", "uid": "u-1", "generation": 1},
        "spec": {"targetRef": {"name": "inference"}, "model": {"uri": uri}},
        "status": None if old is None else old.to_k8s(),
    }


def test_idle_reads_kopfs_copy_and_asks_the_registry_only_for_an_alias() -> None:
    now: datetime = NOW
    alias = runtime("8")
    assert idle(alias, body(finished()), now)
    assert alias.registry.asked == 1
    moved = runtime("9")
    assert not idle(moved, body(finished()), now)
    down = runtime(None)
    assert idle(down, body(finished(Phase.FAILED)), now)

    pinned = runtime("9")
    assert idle(pinned, body(finished(), "models:/credit-default/8"), now)
    assert not idle(pinned, body(finished(), "models:/credit-default/9"), now)
    assert pinned.registry.asked == 0

    busy = runtime()
    assert not idle(busy, body(finished(Phase.PROGRESSING)), now)
    assert not idle(busy, body(None), now)
    assert busy.registry.asked == 0  # in flight: no parsing, no registry
    broken = body(finished())
    broken["spec"]["model"]["uri"] = "not a uri"
    assert not idle(busy, broken, now)  # the reconcile reports the invalid spec


def test_a_finished_rollouts_tick_drops_our_last_writes_copy_once_kopf_has_seen_it() -> None:
    """Otherwise every finished rollout would keep a whole copy of itself in memory."""
    rt = runtime()
    ours = body(finished())
    ours["metadata"]["resourceVersion"] = "5"
    rt.rollouts.note(ours)
    seen = body(finished())
    seen["metadata"]["resourceVersion"] = "6"
    assert idle(rt, seen, NOW)
    older = body(finished())
    older["metadata"]["resourceVersion"] = "4"
    assert rt.rollouts.version(older) == "4"  # the copy at 5 is gone


def test_a_finished_copy_of_kopfs_is_not_skipped_when_our_write_moved_it_on() -> None:
    """Kopf's copy still says Succeeded while our newer write says otherwise: not idle."""
    rt = runtime()
    ours = body(finished(Phase.PROGRESSING))
    ours["metadata"]["resourceVersion"] = "7"
    rt.rollouts.note(ours)
    stale = body(finished())
    stale["metadata"]["resourceVersion"] = "6"
    assert not idle(rt, stale, NOW)
