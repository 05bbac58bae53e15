"""Tick-driven runs of the decision function against a tiny simulated cluster.

Each tick the status goes through its Kubernetes JSON form and back, exactly as it does
between two reconciles of the real operator (or across an operator restart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest

from controller.rollout import analysis_due, decide
from controller.rollout.actions import (
    Action,
    DeleteCanary,
    EnsureCanary,
    HoldStableHPAMin,
    MoveAlias,
    PromoteStable,
    RestoreStableHPAMin,
    ScaleCanaryDown,
    SetWeight,
    TagVersion,
)
from controller.rollout.readings import (
    ContractCheck,
    HPAReading,
    MetricReadings,
    Readings,
    WorkloadReading,
)
from controller.spec import RolloutSpec
from controller.status import Phase, RolloutStatus
from tests.unit.controller.factories import NAME, NOW, STABLE_URI, metrics, spec, workload

pytestmark = pytest.mark.unit

Metrics = Callable[[int, int], MetricReadings]  # (tick number, weight) -> readings


@dataclass
class World:
    """Applies actions the way the cluster would, one tick later."""

    metrics: Metrics = lambda tick, weight: metrics()
    weight: int = 0
    canary_uri: str | None = None
    canary_replicas: int = 0
    stable_uri: str = STABLE_URI
    hpa_min: int = 2
    held_from: int | None = None  # the HPA's original-min-replicas annotation
    rolling: bool = False  # a stable rolling update seen by the next observation only
    alias: dict[str, str] = field(default_factory=lambda: {"champion": "7"})
    tags: dict[str, str] = field(default_factory=dict)
    weights: list[int] = field(default_factory=list)
    applied: list[Action] = field(default_factory=list)

    def apply(self, action: Action) -> None:
        self.applied.append(action)
        match action:
            case EnsureCanary(uri, replicas):
                self.canary_uri, self.canary_replicas = uri, max(self.canary_replicas, replicas)
            case SetWeight(weight):
                self.weight = weight
                self.weights.append(weight)
            case ScaleCanaryDown():
                self.canary_replicas = 0
            case DeleteCanary():
                self.canary_uri, self.canary_replicas = None, 0
            case HoldStableHPAMin(_, low, original):
                self.hpa_min, self.held_from = low, original
            case RestoreStableHPAMin(_, low):
                self.hpa_min, self.held_from = low, None
            case PromoteStable(uri):
                self.stable_uri, self.rolling = uri, True
            case MoveAlias(_, version, alias):
                self.alias[alias] = version
            case TagVersion(_, _, tags):
                self.tags.update(tags)

    def readings(self, n: int, spec: RolloutSpec, status: RolloutStatus, now: datetime) -> Readings:
        due = analysis_due(spec, status, now)
        replicas = max(4, self.hpa_min)  # the HPA keeps the stable at its floor
        stable = workload(self.stable_uri, replicas, updated=0 if self.rolling else replicas)
        self.rolling = False
        canary = WorkloadReading()
        if self.canary_uri:
            canary = workload(self.canary_uri, self.canary_replicas)
        return Readings(
            model_name=NAME,
            candidate_version="8",
            stable_version="7",
            stable=stable,
            canary=canary,
            stable_hpa=HPAReading("inference", self.hpa_min, 10, self.held_from),
            contract=ContractCheck(),
            metrics=self.metrics(n, self.weight) if due else None,
        )


def run(
    world: World,
    rollout: RolloutSpec,
    ticks: int = 60,
    every: float = 15.0,
    crash_first: bool = False,
) -> list[Phase]:
    """Tick until a final phase. ``crash_first``: every tick is first attempted by an
    operator that dies after applying the effects, before the status is written (lost),
    then by a restarted one reading the old status back at the same instant — so every
    analysis, the one deciding the promotion included, is crashed once. (A restart some
    seconds later would shift the analysis clock: the crashed attempt would then always
    come just before the analysis is due and never decide anything.)"""
    status, phases = RolloutStatus(), []
    for n in range(ticks):
        now = NOW + timedelta(seconds=n * every)
        if crash_first:
            lost = decide(rollout, status, world.readings(n, rollout, status, now), now)
            for action in lost.effects:
                world.apply(action)
        decision = decide(rollout, status, world.readings(n, rollout, status, now), now)
        for action in decision.effects:
            world.apply(action)
        status = RolloutStatus.from_k8s(decision.status.to_k8s())  # persisted and read back
        phases.append(status.phase)
        if status.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
    return phases


def test_healthy_candidate_is_promoted_step_by_step() -> None:
    world = World()
    phases = run(world, spec())
    assert phases[-1] is Phase.SUCCEEDED
    assert world.weights == [5, 10, 25, 50, 0]  # no step repeated or skipped
    assert world.alias["champion"] == "8"
    assert world.stable_uri == f"models:/{NAME}/8"
    assert world.canary_uri is None
    assert world.hpa_min == 2
    assert world.tags["rollout.verdict"] == "promoted"
    # 4 analyses one interval (60 s) apart, ticking every 15 s
    assert len([k for k in world.tags if k.startswith("rollout.analysis.")]) == 4


def test_errors_from_the_second_step_roll_back_after_the_threshold() -> None:
    world = World(metrics=lambda n, w: metrics(errorRatio=0.2 if w >= 10 else 0.0))
    phases = run(world, spec())
    assert phases[-1] is Phase.FAILED
    assert Phase.ROLLING_BACK in phases
    assert world.weights == [5, 10, 0, 0]  # safe state set, then re-asserted when recorded
    assert world.canary_replicas == 0
    assert world.alias["champion"] == "7"
    assert world.stable_uri == STABLE_URI
    assert world.tags["rollout.verdict"] == "rolled_back"
    assert world.tags["rollout.failed_checks"] == "3"


def test_prometheus_outage_shorter_than_the_limit_only_delays() -> None:
    down = range(6, 14)  # ticks with Prometheus down: 2 analyses
    world = World(metrics=lambda n, w: metrics(online=n not in down))
    phases = run(world, spec(), ticks=80)
    assert phases[-1] is Phase.SUCCEEDED
    assert world.weights == [5, 10, 25, 50, 0]


def test_no_traffic_never_promotes() -> None:
    world = World(metrics=lambda n, w: metrics(requests=0))
    phases = run(world, spec(), ticks=200)
    assert set(phases[3:]) == {Phase.PROGRESSING}
    assert world.weights == [5]


def test_restart_between_every_tick_gives_the_same_run() -> None:
    """Pure function + persisted status: replaying from JSON changes nothing."""
    first, second = World(), World()
    assert run(first, spec()) == run(replace(second), spec())
    assert first.weights == second.weights


def test_a_crash_before_every_status_write_still_promotes_exactly_once() -> None:
    """Every tick's effects are applied twice (the first operator dies before recording
    them): the promotion still ends the same, the stable Deployment is patched once, the
    HPA floor is held at one value, the verdict tags are the same both times."""
    world = World()
    phases = run(world, spec(), crash_first=True)
    assert phases[-1] is Phase.SUCCEEDED
    assert world.stable_uri == f"models:/{NAME}/8"
    assert world.alias["champion"] == "8"
    assert (world.hpa_min, world.held_from) == (2, None)
    assert [a for a in world.applied if isinstance(a, PromoteStable)] == [
        PromoteStable(f"models:/{NAME}/8")
    ]
    holds = [a for a in world.applied if isinstance(a, HoldStableHPAMin)]
    assert len(holds) == 2, "the tick deciding the promotion ran twice"
    assert {a.min_replicas for a in holds} == {5}, "4 stable + 1 canary, never raised again"
    assert {a.original_min for a in holds} == {2}, "the original floor is kept, not the held"
    verdicts = [
        a.tags for a in world.applied if isinstance(a, TagVersion) and "rollout.verdict" in a.tags
    ]
    assert len(verdicts) == 2, "the verdict tick ran twice"
    assert verdicts[0] == verdicts[1]
    assert {a for a in world.applied if isinstance(a, MoveAlias)} == {MoveAlias(NAME, "8")}


def test_a_crash_after_the_floor_is_raised_then_a_failed_analysis_gives_it_back() -> None:
    """Promotion decided, floor raised, operator dead before recording it; the analysis
    redone after the restart fails: the rollback restores the floor it never recorded."""
    world = World(metrics=lambda n, w: metrics(errorRatio=0.0 if n < 8 else 0.5))
    rollout = spec(canary={"steps": [5], "failureThreshold": 1})
    status = RolloutStatus()
    for n in range(8):  # Initializing, then Progressing until the passed analysis
        now = NOW + timedelta(seconds=n * 15)
        decision = decide(rollout, status, world.readings(n, rollout, status, now), now)
        if decision.status.phase is Phase.PROMOTING:
            for action in decision.effects:  # applied, never recorded
                world.apply(action)
            break
        for action in decision.effects:
            world.apply(action)
        status = RolloutStatus.from_k8s(decision.status.to_k8s())
    assert (world.hpa_min, world.held_from) == (5, 2)
    assert world.stable_uri == STABLE_URI, "the stable is not touched before Promoting"
    now = NOW + timedelta(seconds=9 * 15)
    decision = decide(rollout, status, world.readings(9, rollout, status, now), now)
    for action in decision.effects:
        world.apply(action)
    assert decision.status.phase is Phase.ROLLING_BACK
    assert (world.hpa_min, world.held_from) == (2, None)
