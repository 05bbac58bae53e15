"""A Progressing rollout's tick may be skipped only between analyses and only when
``decide`` would do nothing: the skip case is checked against ``decide`` itself, every
condition that must reconcile is checked to reconcile, and the skipped ticks in a row
never span an interval (the safety net)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from controller.cache import LatestCopies
from controller.mlflow_adapter import RegistryError
from controller.reconcile import idle
from controller.rollout import decide
from controller.rollout.between import between_analyses
from controller.settings import ControllerSettings
from controller.spec import RolloutSpec
from controller.status import HookStatus, Phase, RolloutStatus
from tests.unit.controller.factories import NOW, ago, readings, spec, status

pytestmark = pytest.mark.unit

INTERVAL = 60.0  # the spec's default canary.interval


def analysing(**overrides: Any) -> RolloutStatus:
    """Progressing, canary serving at the last reconcile, last analysis 30 s ago."""
    values: dict[str, Any] = {"last_analysis_time": ago(30)}
    values.update(overrides)
    return status(Phase.PROGRESSING, **values)


def skip(rollout: RolloutSpec, old: RolloutStatus, now: datetime = NOW, **kw: Any) -> bool:
    values: dict[str, Any] = {"generation": 1, "deleting": False, "action": None}
    values.update(kw)
    return between_analyses(rollout, old, now, **values)


def test_between_analyses_skips_and_decide_agrees() -> None:
    old = analysing()
    assert skip(spec(), old)
    decision = decide(spec(), old, readings(), NOW)
    assert decision.status.to_k8s() == old.to_k8s()
    assert not decision.actions


def test_a_rollout_hook_not_due_does_not_stop_the_skip() -> None:
    hooks = [{"name": "gate", "type": "rollout", "url": "https://hooks.bank/gate"}]
    assert skip(spec(webhooks=hooks), analysing())


@pytest.mark.parametrize(
    ("elapsed", "skipped"),
    [
        (0.0, True),  # the analysis just ran
        (INTERVAL - 0.001, True),
        (INTERVAL, False),  # exactly due: reconcile
        (INTERVAL + 5, False),  # late: reconcile
        (-1.0, False),  # a stamp from the future is a doubt
    ],
)
def test_boundary_at_exactly_due(elapsed: float, skipped: bool) -> None:
    old = analysing(last_analysis_time=NOW - timedelta(seconds=elapsed))
    assert skip(spec(), old) is skipped


@pytest.mark.parametrize(
    ("rollout", "overrides", "kw"),
    [
        (spec(), {}, {"generation": 2}),  # a spec the status has not seen
        (spec(paused=True), {}, {}),  # paused (the reconcile pauses it)
        (spec(), {}, {"action": "abort"}),
        (spec(), {}, {"action": "pause"}),
        (spec(), {}, {"action": "yolo"}),  # answered "ignored"
        (spec(), {}, {"deleting": True}),
        (spec(), {"canary_not_ready_since": ago(10)}, {}),  # canary unready last time
        (spec(), {"last_analysis_time": None}, {}),  # never analysed
        (
            spec(
                webhooks=[{"name": "ok", "type": "confirm-promotion", "url": "https://h.bank/ok"}]
            ),
            {"hooks": [HookStatus(name="ok", type="confirm-promotion", state="Asked")]},
            {},
        ),  # a confirmation asked for: called every tick
    ],
)
def test_each_condition_that_must_reconcile(
    rollout: RolloutSpec, overrides: dict[str, Any], kw: dict[str, Any]
) -> None:
    assert not skip(rollout, analysing(**overrides), **kw)


@pytest.mark.parametrize("phase", [p for p in Phase if p is not Phase.PROGRESSING])
def test_every_other_phase_reconciles(phase: Phase) -> None:
    assert not skip(spec(), status(phase, last_analysis_time=ago(30)))


def test_never_more_than_one_interval_of_skipped_ticks_in_a_row() -> None:
    """Ticks every 5 s after an analysis: every one skipped falls within the interval
    after it, and the first tick at or past due reconciles."""
    last = NOW
    old = analysing(last_analysis_time=last)
    ticks = [last + timedelta(seconds=5 * i) for i in range(1, 30)]
    skipped = [t for t in ticks if skip(spec(), old, t)]
    reconciled = [t for t in ticks if not skip(spec(), old, t)]
    assert skipped
    assert max(skipped) - last < timedelta(seconds=INTERVAL)
    assert reconciled[0] == last + timedelta(seconds=INTERVAL)


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


def body(
    old: RolloutStatus, uri: str = "models:/credit-default@challenger", version: str = "5"
) -> dict[str, Any]:
    meta = {"name": "r", "namespace": "ns", "uid": "u-1", "generation": 1}
    return {
        "metadata": {**meta, "resourceVersion": version},
        "spec": {"targetRef": {"name": "inference"}, "model": {"uri": uri}},
        "status": old.to_k8s(),
    }


def test_idle_skips_between_analyses_from_kopfs_copy() -> None:
    alias = runtime("8")
    assert idle(alias, body(analysing()), NOW)
    assert alias.registry.asked == 1
    assert not idle(runtime("9"), body(analysing()), NOW)  # alias moved: restart
    assert idle(runtime(None), body(analysing()), NOW)  # registry down: never a restart
    pinned = runtime("9")
    assert idle(pinned, body(analysing(), "models:/credit-default/8"), NOW)
    assert pinned.registry.asked == 0


def test_idle_asks_the_registry_only_when_all_else_says_skip() -> None:
    due = runtime()
    assert not idle(due, body(analysing(last_analysis_time=ago(INTERVAL))), NOW)
    assert due.registry.asked == 0


def test_idle_takes_our_newer_write_over_kopfs_copy() -> None:
    """Our last write (canary found unready) not yet watched: the tick reconciles."""
    rt = runtime()
    rt.rollouts.note(body(analysing(canary_not_ready_since=NOW), version="6"))
    assert not idle(rt, body(analysing(), version="5"), NOW)
