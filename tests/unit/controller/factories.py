"""Small builders of specs, statuses and readings for the decision-function tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controller.builders.meta import Owner
from controller.rollout.readings import (
    ContractCheck,
    HPAReading,
    MetricReadings,
    Readings,
    WorkloadReading,
)
from controller.rollout.transitions import CONTRACT, PROMOTED
from controller.spec import RolloutSpec
from controller.status import Condition, Phase, RolloutStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAME = "credit-default"
STABLE_URI = f"models:/{NAME}/7"
CANDIDATE_URI = f"models:/{NAME}/8"
OWNER = Owner(NAME, "credit-risk", "uid-1")  # the ModelRollout owning canary objects
GOOD = {
    "errorRatio": 0.001,
    "latencyP99": 0.05,
    "featurePSI": 0.05,
    "scorePSI": 0.03,
    "positiveRateShift": 0.01,
}


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def spec(**overrides: Any) -> RolloutSpec:
    body: dict[str, Any] = {
        "targetRef": {"name": "inference"},
        "model": {"uri": f"models:/{NAME}@challenger"},
    }
    for key, value in overrides.items():
        body[key] = value
    return RolloutSpec.model_validate(body)


def metrics(
    requests: float | None = 500, online: bool = True, **gates: float | None
) -> MetricReadings:
    if not online:
        return MetricReadings.unreachable("connection refused")
    return MetricReadings(requests=requests, gates={**GOOD, **gates})


def workload(uri: str, replicas: int = 1, ready: int | None = None, **kw: Any) -> WorkloadReading:
    ready = replicas if ready is None else ready
    updated = kw.pop("updated", replicas)
    return WorkloadReading(True, replicas, ready, updated, model_uri=uri, **kw)


def readings(**overrides: Any) -> Readings:
    values: dict[str, Any] = {
        "generation": 1,
        "model_name": NAME,
        "candidate_version": "8",
        "stable_version": "7",
        "stable": workload(STABLE_URI, 4),
        "canary": workload(CANDIDATE_URI, 1),
        "stable_hpa": HPAReading("inference", 2, 10),
        "contract": ContractCheck(),
        "metrics": metrics(),
    }
    values.update(overrides)
    return Readings(**values)


def _conditions(phase: Phase) -> list[Condition]:
    promoted = Condition(
        type=PROMOTED, status="False", reason="Progressing", last_transition_time=ago(3600)
    )
    if phase is Phase.PENDING:
        return []
    if phase is Phase.INITIALIZING:
        unknown = Condition(
            type=CONTRACT, status="Unknown", reason="NotChecked", last_transition_time=ago(60)
        )
        return [promoted, unknown]
    ok = Condition(type=CONTRACT, status="True", reason="Compatible", last_transition_time=ago(60))
    return [promoted, ok]


def status(phase: Phase = Phase.PROGRESSING, **overrides: Any) -> RolloutStatus:
    """A status in ``phase``; Progressing defaults: step 0 at 5 %, analysis due now."""
    values: dict[str, Any] = {
        "phase": phase,
        "observed_generation": 1,
        "model_name": NAME,
        "candidate_uri": f"models:/{NAME}@challenger",
        "stable_version": "7",
        "canary_version": "8",
        "started_at": ago(3600),
        "phase_since": ago(60),
        "conditions": _conditions(phase),
    }
    if phase is Phase.PENDING:
        values.update(model_name=None, stable_version=None, canary_version=None)
    if phase in (Phase.PROGRESSING, Phase.PAUSED):
        values.update(canary_weight=5, step=0, last_analysis_time=ago(60))
    values.update(overrides)
    return RolloutStatus(**values)
