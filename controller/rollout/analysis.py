"""Judge one analysis: Prometheus figures against the gates' ranges → an AnalysisRecord.

Order of judgement: Prometheus unreachable → inconclusive; fewer canary requests than
``minRequests`` → inconclusive (too little evidence to pass *or* fail); any gate out of
range → failed; any gate without data → inconclusive; otherwise passed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from controller.rollout.readings import MetricReadings
from controller.spec import RolloutSpec
from controller.status import AnalysisRecord, GateResult, RolloutStatus, Verdict


def judge(name: str, value: float | None, low: float | None, high: float | None) -> GateResult:
    verdict: Literal["Passed", "Failed", "NoData"]
    if value is None:
        verdict = "NoData"
    elif (low is not None and value < low) or (high is not None and value > high):
        verdict = "Failed"
    else:
        verdict = "Passed"
    return GateResult(name=name, value=value, min=low, max=high, verdict=verdict)


def _describe(gate: GateResult) -> str:
    value = gate.value or 0.0
    if gate.max is not None and value > gate.max:
        return f"{gate.name} {value:.4g} > max {gate.max:.4g}"
    return f"{gate.name} {value:.4g} < min {gate.min or 0.0:.4g}"


def _verdict(
    spec: RolloutSpec, metrics: MetricReadings, gates: list[GateResult]
) -> tuple[Verdict, str, str]:
    if not metrics.online:
        return (
            Verdict.INCONCLUSIVE,
            "PrometheusUnreachable",
            metrics.error or "Prometheus unreachable",
        )
    floor = spec.analysis.min_requests
    if metrics.requests is None or metrics.requests < floor:
        seen = "no" if metrics.requests is None else f"{metrics.requests:.0f}"
        return (
            Verdict.INCONCLUSIVE,
            "TooFewRequests",
            f"{seen} canary requests < minRequests {floor}",
        )
    failed = [_describe(g) for g in gates if g.verdict == "Failed"]
    if failed:
        return Verdict.FAILED, "GateFailed", "; ".join(failed)
    missing = [g.name for g in gates if g.verdict == "NoData"]
    if missing:
        return Verdict.INCONCLUSIVE, "NoData", f"no data for {', '.join(missing)}"
    return Verdict.PASSED, "GatesPassed", f"all {len(gates)} gates passed"


def evaluate(
    spec: RolloutSpec, status: RolloutStatus, metrics: MetricReadings | None, now: datetime
) -> AnalysisRecord:
    """The record of one analysis at the current step (``metrics=None``: not measured)."""
    metrics = metrics or MetricReadings.unreachable("no metrics were gathered")
    gates = [
        judge(name, metrics.gates.get(name), low, high)
        for name, (low, high) in spec.analysis.thresholds().items()
    ]
    verdict, reason, message = _verdict(spec, metrics, gates)
    return AnalysisRecord(
        time=now,
        step=status.step,
        weight=status.canary_weight,
        canary_version=status.canary_version,
        verdict=verdict,
        reason=reason,
        requests=metrics.requests,
        gates=gates if metrics.online else [],
        message=message,
    )
