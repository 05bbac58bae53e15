"""The pure rollout logic: ``decide(spec, status, readings, now) -> Decision``."""

from controller.rollout.decision import Decision, decide
from controller.rollout.progress import analysis_due
from controller.rollout.readings import (
    ContractCheck,
    HPAReading,
    MetricReadings,
    Readings,
    WorkloadReading,
)

__all__ = [
    "ContractCheck",
    "Decision",
    "HPAReading",
    "MetricReadings",
    "Readings",
    "WorkloadReading",
    "analysis_due",
    "decide",
]
