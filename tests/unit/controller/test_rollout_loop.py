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
    alias: dict[str, str] = field(default_factory=lambda: {"champion": "7"})
    tags: dict[str, str] = field(default_factory=dict)
    weights: list[int] = field(default_factory=list)

    def apply(self, action: Action) -> None:
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
            case HoldStableHPAMin(_, low, _) | RestoreStableHPAMin(_, low):
                self.hpa_min = low
            case PromoteStable(uri):
                self.stable_uri = uri
            case MoveAlias(_, version, alias):
                self.alias[alias] = version
            case TagVersion(_, _, tags):
                self.tags.update(tags)

    def readings(self, n: int, spec: RolloutSpec, status: RolloutStatus, now: datetime) -> Readings:
        due = analysis_due(spec, status, now)
        canary = WorkloadReading()
        if self.canary_uri:
            canary = workload(self.canary_uri, self.canary_replicas)
        return Readings(
            model_name=NAME,
            candidate_version="8",
            stable_version="7",
            stable=workload(self.stable_uri, 4),
            canary=canary,
            stable_hpa=HPAReading("inference", self.hpa_min, 10),
            contract=ContractCheck(),
            metrics=self.metrics(n, self.weight) if due else None,
        )


def run(world: World, rollout: RolloutSpec, ticks: int = 60, every: float = 15.0) -> list[Phase]:
    status, phases = RolloutStatus(), []
    for n in range(ticks):
        now = NOW + timedelta(seconds=n * every)
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
