"""Judge one analysis: Prometheus figures against the gates' ranges → an AnalysisRecord.

Order of judgement: Prometheus unreachable → inconclusive; fewer canary requests than
``minRequests`` → inconclusive (too little evidence to pass *or* fail); any gate out of
range → failed; any gate without data → inconclusive; otherwise passed.

With ``shadow.canaryGates`` two of the shadow phase's paired gates judge the canary's own
applicants too (each scored by the candidate and the stable version over the window), as
``pairedFlipRate`` and ``pairedScoreDiff``. They can fail an analysis (the flip rate only
once its confidence interval lies above the limit), never hold it: with fewer than
``minRequests`` pairs they are not judged, and an undecided bound or a figure without data
leaves the verdict to the unpaired gates. The paired score PSI is shown, not judged: over
one window's few hundred pairs it has no bound and its small-sample bias alone reaches
the limit (0.13 measured from 250 pairs of a candidate whose whole shadow phase gave 0.02).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from controller.rollout.paired import figures, paired_gates, paired_record
from controller.rollout.readings import MetricReadings, PairedReadings
from controller.spec import RolloutSpec
from controller.status import AnalysisRecord, GateResult, PairedRecord, RolloutStatus, Verdict

CANARY_PAIRED = ("flipRate", "scoreDiff")  # judged at canary analyses (see above)


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


def _paired(
    spec: RolloutSpec, paired: PairedReadings | None
) -> tuple[list[GateResult], PairedRecord | None]:
    """The canary's paired gates (judged once there are ``minRequests`` pairs) and figures."""
    shadow = spec.shadow
    if paired is None or not paired.online or not (shadow.enabled and shadow.canary_gates):
        return [], None
    found = figures(paired, shadow.confidence)
    if found.pairs < spec.analysis.min_requests:
        return [], paired_record(found)
    return paired_gates(shadow.gates, found, "paired", CANARY_PAIRED), paired_record(found)


def _verdict(
    spec: RolloutSpec, metrics: MetricReadings, gates: list[GateResult], paired: list[GateResult]
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
    failed = [_describe(g) for g in [*gates, *paired] if g.verdict == "Failed"]
    if failed:
        return Verdict.FAILED, "GateFailed", "; ".join(failed)
    missing = [g.name for g in gates if g.verdict == "NoData"]
    if missing:
        return Verdict.INCONCLUSIVE, "NoData", f"no data for {', '.join(missing)}"
    return Verdict.PASSED, "GatesPassed", f"all {len(gates)} gates passed"


def evaluate(
    spec: RolloutSpec,
    status: RolloutStatus,
    metrics: MetricReadings | None,
    now: datetime,
    paired: PairedReadings | None = None,
) -> AnalysisRecord:
    """The record of one analysis at the current step (``metrics=None``: not measured;
    ``paired``: the canary's paired counters over the window, if read)."""
    metrics = metrics or MetricReadings.unreachable("no metrics were gathered")
    gates = [
        judge(name, metrics.gates.get(name), low, high)
        for name, (low, high) in spec.analysis.thresholds().items()
    ]
    paired_judged, figures_seen = _paired(spec, paired) if metrics.online else ([], None)
    verdict, reason, message = _verdict(spec, metrics, gates, paired_judged)
    return AnalysisRecord(
        time=now,
        step=status.step,
        weight=status.canary_weight,
        canary_version=status.canary_version,
        verdict=verdict,
        reason=reason,
        requests=metrics.requests,
        gates=[*gates, *paired_judged] if metrics.online else [],
        message=message,
        paired=figures_seen,
    )
