"""The decision function, table-driven: (spec, status, readings, now) → (status, actions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from controller.rollout import Decision, decide
from controller.rollout.actions import (
    ClearOperatorAction as Clear,
)
from controller.rollout.actions import (
    DeleteCanary,
    EmitEvent,
    EnsureCanary,
    HoldStableHPAMin,
    MoveAlias,
    PromoteStable,
    RestoreStableHPAMin,
    ScaleCanary,
    ScaleCanaryDown,
    SetWeight,
    TagVersion,
)
from controller.rollout.readings import ContractCheck, HPAReading, Readings, WorkloadReading
from controller.spec import RolloutSpec
from controller.status import Phase, Promotion, RolloutStatus
from tests.unit.controller.factories import (
    CANDIDATE_URI,
    NAME,
    NOW,
    STABLE_URI,
    ago,
    metrics,
    readings,
    spec,
    status,
    workload,
)

pytestmark = pytest.mark.unit

P = Phase
SPEC = spec()
PROMOTING = Promotion(stable_hpa="inference", original_min=2, held_min=5)
CUSTOM = spec(analysis={"custom": [{"name": "auc", "query": "vector(0.6)", "min": 0.7}]})


@dataclass
class Case:
    id: str
    status: RolloutStatus
    phase: Phase
    actions: tuple[Any, ...] = ()  # action instances (equal) or classes (isinstance)
    readings: Readings = field(default_factory=readings)
    spec: RolloutSpec = field(default_factory=lambda: SPEC)
    now: datetime = NOW
    expect: dict[str, Any] = field(default_factory=dict)  # status fields
    event: str | None = None  # reason of the (last) event
    check: Callable[[Decision], bool] | None = None


def cond(decision: Decision, kind: str) -> tuple[str, str] | None:
    found = decision.status.condition(kind)
    return (found.status, found.reason) if found else None


def last_reason(decision: Decision) -> str:
    record = decision.status.last_analysis
    return record.reason if record else ""


def tag(decision: Decision) -> dict[str, str]:
    return next(a.tags for a in decision.actions if isinstance(a, TagVersion))


A = readings  # shorthand in the table
S = status

CASES = [
    # ---- Pending
    Case(
        "pending-starts",
        S(P.PENDING),
        P.INITIALIZING,
        (EmitEvent,),
        event="Started",
        expect={"canary_version": "8", "stable_version": "7", "model_name": NAME},
    ),
    Case(
        "pending-waits-for-candidate",
        S(P.PENDING),
        P.PENDING,
        readings=A(candidate_version=None, candidate_error="alias not found"),
        check=lambda d: "alias not found" in d.status.message,
    ),
    Case(
        "pending-waits-for-the-target",
        S(P.PENDING),
        P.PENDING,
        readings=A(stable=WorkloadReading()),
        check=lambda d: "target Deployment inference" in d.status.message,
    ),
    Case(
        "pending-candidate-already-stable",
        S(P.PENDING),
        P.SUCCEEDED,
        (EmitEvent,),
        readings=A(candidate_version="7"),
        event="AlreadyStable",
        check=lambda d: cond(d, "Promoted") == ("True", "AlreadyStable"),
    ),
    # ---- Initializing: contract gate, canary creation, readiness deadline
    Case(
        "init-checking-contract",
        S(P.INITIALIZING),
        P.INITIALIZING,
        (),
        readings=A(contract=None, canary=WorkloadReading()),
    ),
    Case(
        "init-incompatible-contract",
        S(P.INITIALIZING),
        P.FAILED,
        (TagVersion, EmitEvent),
        readings=A(contract=ContractCheck(("feature 'income' removed",))),
        event="IncompatibleContract",
        check=lambda d: (
            cond(d, "ContractCompatible") == ("False", "Incompatible")
            and tag(d)["rollout.verdict"] == "rejected"
            and d.status.canary_weight == 0
        ),
    ),
    Case(
        "init-creates-canary",
        S(P.INITIALIZING),
        P.INITIALIZING,
        (EnsureCanary(CANDIDATE_URI, 1), ScaleCanary(1, 1)),
        readings=A(canary=WorkloadReading()),
        check=lambda d: cond(d, "ContractCompatible") == ("True", "Compatible"),
    ),
    Case(
        "init-updates-canary-of-old-candidate",
        S(P.INITIALIZING),
        P.INITIALIZING,
        (EnsureCanary(CANDIDATE_URI, 1), ScaleCanary(1, 1)),
        readings=A(canary=workload("models:/credit-default/6")),
    ),
    Case(
        "init-rescales-a-scaled-down-canary",
        S(P.INITIALIZING),
        P.INITIALIZING,
        (EnsureCanary(CANDIDATE_URI, 1), ScaleCanary(1, 1)),
        readings=A(canary=workload(CANDIDATE_URI, 0)),
    ),
    Case(
        "init-waits-for-ready-canary",
        S(P.INITIALIZING),
        P.INITIALIZING,
        (),
        readings=A(canary=workload(CANDIDATE_URI, 1, ready=0)),
        check=lambda d: "waiting for the canary (0/1 ready)" in d.status.message,
    ),
    Case(
        "init-ready-starts-traffic",
        S(P.INITIALIZING),
        P.PROGRESSING,
        (ScaleCanary(1, 1), SetWeight(5), EmitEvent),
        event="Progressing",
        expect={"canary_weight": 5, "step": 0, "last_analysis_time": NOW},
    ),
    Case(
        "init-deadline-exceeded",
        S(P.INITIALIZING, phase_since=ago(601)),
        P.ROLLING_BACK,
        (SetWeight(0), ScaleCanaryDown(), EmitEvent),
        event="ProgressDeadlineExceeded",
        readings=A(canary=workload(CANDIDATE_URI, 1, ready=0)),
    ),
    # ---- Progressing: analysis every interval
    Case(
        "progress-not-due",
        S(last_analysis_time=ago(30)),
        P.PROGRESSING,
        (),
        expect={"step": 0, "canary_weight": 5, "analysis_count": 0},
    ),
    Case(
        "progress-pass-step1",
        S(),
        P.PROGRESSING,
        (ScaleCanary(1, 1), SetWeight(10), TagVersion, EmitEvent),
        event="Advanced",
        expect={"step": 1, "canary_weight": 10, "analysis_count": 1, "last_analysis_time": NOW},
        check=lambda d: (
            d.status.history[-1].verdict == "Passed" and "rollout.analysis.001" in tag(d)
        ),
    ),
    Case(
        "progress-pass-step3",
        S(step=2, canary_weight=25),
        P.PROGRESSING,
        (ScaleCanary(1, 5), SetWeight(50), TagVersion, EmitEvent),
        expect={"step": 3, "canary_weight": 50},
    ),
    Case(
        "progress-pass-last-step-promotes",
        S(step=3, canary_weight=50),
        P.PROMOTING,
        (HoldStableHPAMin("inference", 5, 2), TagVersion, EmitEvent),  # stable patched later
        event="Promoting",
        expect={"promotion": PROMOTING},
    ),
    Case(
        "progress-step-weights",
        S(canary_weight=20),
        P.PROGRESSING,
        (ScaleCanary(1, 4), SetWeight(40), TagVersion, EmitEvent),
        spec=spec(canary={"stepWeight": 20, "maxWeight": 60}),
        expect={"canary_weight": 40},
    ),
    Case(
        "progress-first-failed-check",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=metrics(errorRatio=0.05)),
        event="AnalysisFailed",
        expect={"failed_checks": 1, "step": 0, "canary_weight": 5},
        check=lambda d: "errorRatio 0.05 > max 0.01" in d.status.message,
    ),
    *[
        Case(
            f"progress-threshold-at-step{step}",
            S(step=step, canary_weight=w, failed_checks=2),
            P.ROLLING_BACK,
            (SetWeight(0), ScaleCanaryDown(), TagVersion, EmitEvent),
            readings=A(metrics=metrics(errorRatio=0.2)),
            event="FailedChecks",
            expect={"failed_checks": 3, "canary_weight": 0},
            check=lambda d: cond(d, "Promoted") == ("False", "FailedChecks"),
        )
        for step, w in enumerate([5, 10, 25, 50])
    ],
    Case(
        "progress-threshold-one",
        S(),
        P.ROLLING_BACK,
        (SetWeight(0), ScaleCanaryDown(), TagVersion, EmitEvent),
        spec=spec(canary={"failureThreshold": 1}),
        readings=A(metrics=metrics(latencyP99=0.4)),
    ),
    Case(
        "gate-latency",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=metrics(latencyP99=0.4)),
        expect={"failed_checks": 1},
    ),
    Case(
        "gate-latency-custom-max",
        S(),
        P.PROGRESSING,
        (ScaleCanary, SetWeight(10), TagVersion, EmitEvent),
        readings=A(metrics=metrics(latencyP99=0.4)),
        spec=spec(analysis={"gates": {"latencyP99": {"max": "500ms"}}}),
    ),
    Case(
        "gate-feature-psi",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=metrics(featurePSI=0.31)),
        expect={"failed_checks": 1},
    ),
    Case(
        "gate-score-psi",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=metrics(scorePSI=0.25)),
        expect={"failed_checks": 1},
    ),
    Case(
        "gate-positive-rate-shift",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=metrics(positiveRateShift=0.08)),
        expect={"failed_checks": 1},
    ),
    Case(
        "gate-disabled",
        S(),
        P.PROGRESSING,
        (ScaleCanary, SetWeight(10), TagVersion, EmitEvent),
        readings=A(metrics=metrics(scorePSI=0.9)),
        spec=spec(analysis={"gates": {"scorePSI": {"enabled": False}}}),
    ),
    Case(
        "gate-custom-min",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        spec=CUSTOM,
        readings=A(metrics=metrics(auc=0.6)),
        check=lambda d: "auc 0.6 < min 0.7" in d.status.message,
    ),
    Case(
        "gate-custom-no-data",
        S(),
        P.PROGRESSING,
        (TagVersion,),
        spec=CUSTOM,
        readings=A(metrics=metrics()),
        expect={"inconclusive_count": 1, "failed_checks": 0},
    ),
    # ---- Inconclusive: too few requests or no data never pass, never fail
    Case(
        "too-few-requests",
        S(),
        P.PROGRESSING,
        (TagVersion,),
        readings=A(metrics=metrics(requests=150)),
        expect={"inconclusive_count": 1, "failed_checks": 0, "step": 0, "canary_weight": 5},
        check=lambda d: last_reason(d) == "TooFewRequests",
    ),
    Case(
        "too-few-requests-bad-figures",
        S(),
        P.PROGRESSING,
        (TagVersion,),
        readings=A(metrics=metrics(requests=20, errorRatio=0.5)),
        expect={"failed_checks": 0},
    ),
    Case(
        "no-requests-at-last-step-never-promotes",
        S(step=3, canary_weight=50, inconclusive_count=40),
        P.PROGRESSING,
        (TagVersion,),
        readings=A(metrics=metrics(requests=None)),
        expect={"inconclusive_count": 41},
    ),
    Case(
        "gate-no-data",
        S(),
        P.PROGRESSING,
        (TagVersion,),
        readings=A(metrics=metrics(featurePSI=None)),
        check=lambda d: last_reason(d) == "NoData",
    ),
    Case(
        "failure-beats-no-data",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=metrics(featurePSI=None, errorRatio=0.3)),
        expect={"failed_checks": 1},
    ),
    Case(
        "max-inconclusive-rolls-back",
        S(inconclusive_count=2),
        P.ROLLING_BACK,
        (SetWeight(0), ScaleCanaryDown(), TagVersion, EmitEvent),
        event="Inconclusive",
        spec=spec(analysis={"maxInconclusive": 3}),
        readings=A(metrics=metrics(requests=3)),
    ),
    # ---- Prometheus unreachable
    Case(
        "prometheus-down",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=metrics(online=False)),
        event="PrometheusUnreachable",
        expect={"unreachable_count": 1, "inconclusive_count": 1, "failed_checks": 0},
    ),
    Case(
        "prometheus-back",
        S(unreachable_count=2, inconclusive_count=2),
        P.PROGRESSING,
        (ScaleCanary, SetWeight(10), TagVersion, EmitEvent),
        expect={"unreachable_count": 0, "inconclusive_count": 0, "step": 1},
    ),
    Case(
        "prometheus-down-past-limit",
        S(unreachable_count=2),
        P.ROLLING_BACK,
        (SetWeight(0), ScaleCanaryDown(), TagVersion, EmitEvent),
        event="PrometheusUnreachable",
        readings=A(metrics=metrics(online=False)),
    ),
    Case(
        "prometheus-not-queried",
        S(),
        P.PROGRESSING,
        (TagVersion, EmitEvent),
        readings=A(metrics=None),
        expect={"unreachable_count": 1},
    ),
    # ---- canary readiness while progressing
    Case(
        "canary-unready",
        S(),
        P.PROGRESSING,
        (),
        readings=A(canary=workload(CANDIDATE_URI, 2, 0)),
        expect={"canary_not_ready_since": NOW, "analysis_count": 0},
    ),
    Case(
        "canary-partly-ready-analyses",
        S(),
        P.PROGRESSING,
        (ScaleCanary, SetWeight(10), TagVersion, EmitEvent),
        readings=A(canary=workload(CANDIDATE_URI, 3, 1)),
    ),
    Case(
        "canary-unready-past-deadline",
        S(canary_not_ready_since=ago(700)),
        P.ROLLING_BACK,
        (SetWeight(0), ScaleCanaryDown(), EmitEvent),
        event="ProgressDeadlineExceeded",
        readings=A(canary=workload(CANDIDATE_URI, 2, 0)),
    ),
    Case(
        "canary-deleted-recreated",
        S(),
        P.PROGRESSING,
        (EnsureCanary(CANDIDATE_URI, 1),),
        readings=A(canary=WorkloadReading()),
    ),
    Case(
        "canary-scaled-to-zero-rescaled",
        S(),
        P.PROGRESSING,
        (EnsureCanary(CANDIDATE_URI, 1),),
        readings=A(canary=workload(CANDIDATE_URI, 0)),
    ),
    Case(
        "canary-ready-again",
        S(canary_not_ready_since=ago(30), last_analysis_time=ago(5)),
        P.PROGRESSING,
        (),
        expect={"canary_not_ready_since": None},
    ),
    # ---- pause / resume
    Case(
        "spec-pause",
        S(),
        P.PAUSED,
        (EmitEvent,),
        spec=spec(paused=True),
        event="Paused",
        expect={"paused_from": P.PROGRESSING, "paused_by": "spec"},
        check=lambda d: cond(d, "Paused") == ("True", "PausedBySpec"),
    ),
    Case(
        "paused-holds",
        S(P.PAUSED, paused_from=P.PROGRESSING, paused_by="spec", phase_since=ago(7200)),
        P.PAUSED,
        (),
        spec=spec(paused=True),
    ),
    Case(
        "spec-resume",
        S(P.PAUSED, paused_from=P.PROGRESSING, paused_by="spec"),
        P.PROGRESSING,
        (EmitEvent,),
        event="Resumed",
        expect={"last_analysis_time": NOW, "paused_from": None},
    ),
    Case(
        "pending-paused-by-spec",
        S(P.PENDING),
        P.PAUSED,
        (EmitEvent,),
        spec=spec(paused=True),
        expect={"paused_from": P.PENDING},
    ),
    Case(
        "annotation-pause",
        S(),
        P.PAUSED,
        (Clear(), EmitEvent),
        readings=A(action="pause"),
        expect={"paused_by": "annotation", "last_action": "pause"},
    ),
    Case(
        "annotation-paused-holds",
        S(P.PAUSED, paused_from=P.PROGRESSING, paused_by="annotation"),
        P.PAUSED,
        (),
    ),
    Case(
        "annotation-resume",
        S(P.PAUSED, paused_from=P.PROGRESSING, paused_by="annotation"),
        P.PROGRESSING,
        (Clear(), EmitEvent),
        readings=A(action="resume"),
        event="Resumed",
    ),
    Case(
        "annotation-resume-while-spec-paused",
        S(P.PAUSED, paused_from=P.PROGRESSING, paused_by="spec"),
        P.PAUSED,
        (Clear(), EmitEvent),
        spec=spec(paused=True),
        readings=A(action="resume"),
        event="ActionIgnored",
    ),
    # ---- candidate changes
    Case(
        "candidate-changed-mid-rollout",
        S(step=2, canary_weight=25, failed_checks=2),
        P.INITIALIZING,
        (SetWeight(0), EmitEvent),
        readings=A(candidate_version="9"),
        event="CandidateChanged",
        expect={
            "canary_version": "9",
            "step": 0,
            "canary_weight": 0,
            "failed_checks": 0,
            "last_analysis_time": None,
            "started_at": NOW,
        },
        check=lambda d: cond(d, "ContractCompatible") == ("Unknown", "NotChecked"),
    ),
    Case(
        "candidate-changed-while-paused",
        S(P.PAUSED, paused_from=P.PROGRESSING, paused_by="annotation"),
        P.INITIALIZING,
        (SetWeight(0), EmitEvent),
        readings=A(candidate_version="9"),
        expect={"paused_by": None},
    ),
    Case(
        "candidate-changed-during-promotion",
        S(P.PROMOTING, canary_weight=50, promotion=PROMOTING),
        P.PROMOTING,
        (PromoteStable(CANDIDATE_URI),),
        readings=A(candidate_version="9"),
    ),
    Case(
        "new-candidate-after-success",
        S(P.SUCCEEDED, stable_version="8"),
        P.INITIALIZING,
        (EmitEvent,),
        readings=A(candidate_version="9", stable_version="8"),
        event="NewCandidate",
        expect={"stable_version": "8", "canary_version": "9"},
    ),
    Case(
        "new-candidate-after-failure",
        S(P.FAILED),
        P.INITIALIZING,
        (EmitEvent,),
        readings=A(candidate_version="9"),
    ),
    Case("same-candidate-after-failure", S(P.FAILED), P.FAILED, ()),
    # ---- promotion
    Case(
        "promoting-waits",
        S(P.PROMOTING, canary_weight=50, promotion=PROMOTING),
        P.PROMOTING,
        (),
        readings=A(stable=workload(CANDIDATE_URI, 5, ready=3, updated=2)),
        check=lambda d: "2 updated, 3 ready of 5" in d.status.message,
    ),
    Case(
        "promoting-reasserts-stable",
        S(P.PROMOTING, canary_weight=50, promotion=PROMOTING),
        P.PROMOTING,
        (PromoteStable(CANDIDATE_URI),),
    ),
    Case(
        "promoting-done",
        S(P.PROMOTING, canary_weight=50, promotion=PROMOTING),
        P.SUCCEEDED,
        (
            SetWeight(0),
            DeleteCanary(),
            RestoreStableHPAMin("inference", 2),
            MoveAlias(NAME, "8"),
            TagVersion,
            EmitEvent,
        ),
        readings=A(stable=workload(CANDIDATE_URI, 5)),
        event="Promoted",
        expect={"stable_version": "8", "canary_weight": 0, "promotion": None},
        check=lambda d: (
            cond(d, "Promoted") == ("True", "Promoted") and tag(d)["rollout.verdict"] == "promoted"
        ),
    ),
    Case(
        "promote-without-hpa",
        S(step=3, canary_weight=50),
        P.PROMOTING,
        (TagVersion, EmitEvent),
        readings=A(stable_hpa=None),
    ),
    Case(
        "promote-hpa-floor-capped",
        S(step=3, canary_weight=50),
        P.PROMOTING,
        (HoldStableHPAMin("inference", 10, 2), TagVersion, EmitEvent),
        readings=A(stable=workload(STABLE_URI, 9), canary=workload(CANDIDATE_URI, 3)),
    ),
    Case(
        "promote-hpa-already-held",
        S(step=3, canary_weight=50),
        P.PROMOTING,
        (HoldStableHPAMin("inference", 5, 2), TagVersion, EmitEvent),
        readings=A(stable_hpa=HPAReading("inference", 5, 10, held_from=2)),
    ),
    # the operator died after raising the floor, before recording Promoting: the HPA has
    # since scaled stable up to it (5), plus 1 canary — the floor is kept, not raised to 6
    Case(
        "promote-again-after-a-crash-keeps-the-held-floor",
        S(step=3, canary_weight=50),
        P.PROMOTING,
        (HoldStableHPAMin("inference", 5, 2), TagVersion, EmitEvent),
        readings=A(
            stable=workload(STABLE_URI, 5),
            stable_hpa=HPAReading("inference", 5, 10, held_from=2),
        ),
        expect={"promotion": PROMOTING},
    ),
    # ... and if the analysis redone after the restart fails, the rollback gives it back
    Case(
        "rollback-after-a-crash-gives-the-held-floor-back",
        S(step=3, canary_weight=50, failed_checks=2),
        P.ROLLING_BACK,
        (
            SetWeight(0),
            ScaleCanaryDown(),
            RestoreStableHPAMin("inference", 2),
            TagVersion,
            EmitEvent,
        ),
        readings=A(
            metrics=metrics(errorRatio=0.5),
            stable_hpa=HPAReading("inference", 5, 10, held_from=2),
        ),
        event="FailedChecks",
    ),
    Case(
        "deleted-after-a-crash-gives-the-held-floor-back",
        S(step=3, canary_weight=50),
        P.PROGRESSING,
        (SetWeight(0), DeleteCanary(), RestoreStableHPAMin("inference", 2), EmitEvent),
        readings=A(deleting=True, stable_hpa=HPAReading("inference", 5, 10, held_from=2)),
    ),
    # ---- rollback is recorded once traffic is safe
    Case(
        "rolling-back-records",
        S(P.ROLLING_BACK, canary_weight=0),
        P.FAILED,
        (SetWeight(0), ScaleCanaryDown(), TagVersion, EmitEvent),
        event="RolledBack",
        check=lambda d: tag(d)["rollout.verdict"] == "rolled_back",
    ),
    # ---- deletion
    Case(
        "deleted-mid-rollout",
        S(step=2, canary_weight=25),
        P.PROGRESSING,
        (SetWeight(0), DeleteCanary(), EmitEvent),
        readings=A(deleting=True),
        event="Deleted",
        check=lambda d: (
            d.actions[-1]
            == EmitEvent("Deleted", "ModelRollout deleted: all traffic to stable, canary removed")
        ),
    ),
    Case(
        "deleted-while-promoting",
        S(P.PROMOTING, promotion=PROMOTING),
        P.PROMOTING,
        (SetWeight(0), DeleteCanary(), RestoreStableHPAMin("inference", 2), EmitEvent),
        readings=A(deleting=True),
    ),
    # ---- operator actions
    Case(
        "action-promote",
        S(step=1, canary_weight=10),
        P.PROMOTING,
        (HoldStableHPAMin, Clear(), EmitEvent),
        readings=A(action="promote"),
        event="PromotedByOperator",
        expect={"last_action": "promote"},
    ),
    Case(
        "action-promote-before-contract",
        S(P.INITIALIZING),
        P.INITIALIZING,
        (Clear(), EmitEvent),
        readings=A(action="promote"),
        event="ActionIgnored",
    ),
    Case(
        "action-promote-when-done",
        S(P.SUCCEEDED),
        P.SUCCEEDED,
        (Clear(), EmitEvent),
        readings=A(action="promote"),
        event="ActionIgnored",
        expect={"last_action": "promote (ignored)"},
    ),
    Case(
        "action-abort",
        S(step=2, canary_weight=25),
        P.ROLLING_BACK,
        (SetWeight(0), ScaleCanaryDown(), Clear(), EmitEvent),
        readings=A(action="abort"),
        event="Aborted",
        check=lambda d: cond(d, "Promoted") == ("False", "Aborted"),
    ),
    Case(
        "action-abort-while-paused",
        S(P.PAUSED, paused_from=P.PROGRESSING, paused_by="spec"),
        P.ROLLING_BACK,
        (SetWeight(0), ScaleCanaryDown(), Clear(), EmitEvent),
        spec=spec(paused=True),
        readings=A(action="abort"),
    ),
    Case(
        "action-abort-during-promotion",
        S(P.PROMOTING),
        P.PROMOTING,
        (Clear(), EmitEvent),
        readings=A(action="abort"),
        event="ActionIgnored",
    ),
    Case(
        "action-retry",
        S(P.FAILED, failed_checks=3, retries=1),
        P.INITIALIZING,
        (Clear(), EmitEvent),
        readings=A(action="retry"),
        event="Retried",
        expect={"failed_checks": 0, "retries": 2, "canary_version": "8"},
    ),
    Case(
        "action-retry-while-progressing",
        S(),
        P.PROGRESSING,
        (Clear(), EmitEvent),
        readings=A(action="retry"),
        event="ActionIgnored",
    ),
    Case(
        "action-unknown",
        S(),
        P.PROGRESSING,
        (Clear(), EmitEvent),
        readings=A(action="yolo"),
        check=lambda d: "unknown action" in d.events[-1].message,
    ),
    # ---- bookkeeping
    Case(
        "observed-generation",
        S(last_analysis_time=ago(1)),
        P.PROGRESSING,
        (),
        readings=A(generation=4),
        expect={"observed_generation": 4},
    ),
    Case(
        "history-bounded",
        S(),
        P.PROGRESSING,
        (ScaleCanary, SetWeight, TagVersion, EmitEvent),
        spec=spec(analysis={"historyLimit": 1}),
        check=lambda d: len(d.status.history) == 1,
    ),
]


def _matches(actual: object, expected: Any) -> bool:
    return isinstance(actual, expected) if isinstance(expected, type) else actual == expected


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decide(case: Case) -> None:
    decision = decide(case.spec, case.status, case.readings, case.now)
    assert decision.status.phase is case.phase, decision.status.message
    kinds = [type(a).__name__ for a in decision.actions]
    assert len(decision.actions) == len(case.actions), kinds
    for actual, expected in zip(decision.actions, case.actions, strict=True):
        assert _matches(actual, expected), (actual, expected)
    for name, value in case.expect.items():
        assert getattr(decision.status, name) == value, name
    if case.event is not None:
        assert decision.events[-1].reason == case.event
    if case.check is not None:
        assert case.check(decision), decision.status.message


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_promotion_is_recorded_before_the_stable_deployment_is_touched() -> None:
    """The decision that starts a promotion never patches the stable Deployment; the first
    Promoting tick does, and only while the stable does not run the candidate yet."""
    promoting = decide(SPEC, S(step=3, canary_weight=50), A(), NOW)
    assert promoting.status.phase is P.PROMOTING
    assert not any(isinstance(a, PromoteStable) for a in promoting.actions)
    first = decide(SPEC, promoting.status, A(), NOW)
    assert [a for a in first.actions if isinstance(a, PromoteStable)] == [
        PromoteStable(CANDIDATE_URI)
    ]
    rolling = A(stable=workload(CANDIDATE_URI, 5, ready=3, updated=2))
    assert decide(SPEC, promoting.status, rolling, NOW).actions == ()


@pytest.mark.parametrize(
    ("phase", "done"),
    [
        (P.PROMOTING, A(stable=workload(CANDIDATE_URI, 5))),
        (P.ROLLING_BACK, A()),
    ],
)
def test_a_verdict_repeated_after_a_crash_sets_the_same_tags(phase: Phase, done: Readings) -> None:
    """The verdict tick is repeated when the operator dies before writing its status; the
    tags it sets (and the alias it moves) must be the same, whenever the repeat happens."""
    started = S(phase, canary_weight=0, phase_since=ago(40), promotion=PROMOTING)
    first = decide(SPEC, started, done, ago(10))
    again = decide(SPEC, started, done, NOW)
    assert first.effects == again.effects
    assert tag(first)["rollout.time"] == ago(40).isoformat(timespec="seconds")


def test_then_puts_actions_after_the_effects_and_before_the_events() -> None:
    event = EmitEvent("Advanced", "weight 20%")
    base = Decision(status(Phase.PROGRESSING), (SetWeight(20), event, ScaleCanaryDown()))
    later = base.then(Clear())
    assert later.actions == (SetWeight(20), ScaleCanaryDown(), Clear(), event)
    assert later.status == base.status
    other = status(Phase.PAUSED)
    assert base.then(status=other) == Decision(other, (SetWeight(20), ScaleCanaryDown(), event))
