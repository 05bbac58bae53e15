"""The Progressing phase: one analysis per interval at the current weight, then advance,
count a failed check, or hold on an inconclusive result."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from controller.rollout.actions import (
    EmitEvent,
    EnsureCanary,
    ScaleCanary,
    SetWeight,
    TagVersion,
)
from controller.rollout.analysis import evaluate
from controller.rollout.checkpoints import to_promotion
from controller.rollout.moves import rollback
from controller.rollout.records import analysis_tag
from controller.rollout.transitions import Decision, Tick, canary_bounds, go, hold
from controller.rollout.webhooks import with_hook_gates
from controller.spec import RolloutSpec
from controller.status import AnalysisRecord, Phase, RolloutStatus, Verdict


def analysis_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether this tick runs an analysis (the adapters query Prometheus only then)."""
    awaiting_promotion = status.phase is Phase.AWAITING_APPROVAL and (
        status.awaiting == "beforePromotion"
    )
    if status.phase is not Phase.PROGRESSING and not awaiting_promotion:
        return False
    last = status.last_analysis_time
    return last is None or (now - last).total_seconds() >= spec.canary.interval


def canary_paired_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether this tick's analysis also reads the canary's paired counters: the canary
    pods score the stable version beside the candidate (``shadow.enabled``) and the paired
    gates judge the canary steps (``shadow.canaryGates``)."""
    shadow = spec.shadow
    if not (shadow.enabled and shadow.canary_gates and status.stable_version):
        return False
    return analysis_due(spec, status, now)


def _unready(tick: Tick) -> Decision:
    canary, uri, deadline = (
        tick.readings.canary,
        tick.candidate_uri,
        tick.spec.canary.progress_deadline,
    )
    since = tick.status.canary_not_ready_since or tick.now
    if tick.elapsed(since) > deadline:
        return rollback(
            tick, "ProgressDeadlineExceeded", f"canary not ready for over {deadline:g}s"
        )
    low, _ = canary_bounds(tick.spec.autoscaling, tick.status.canary_weight)
    current = canary.exists and canary.model_uri == uri and canary.replicas > 0
    current = current and canary.shadow == tick.shadow_flag
    ensure = () if current else (EnsureCanary(uri, low, tick.baseline_uri, tick.shadow_flag),)
    message = f"canary not ready ({canary.ready}/{canary.replicas}): analysis held"
    return hold(tick, message, *ensure, canary_not_ready_since=since)


RESET = {"inconclusive_count": 0, "unreachable_count": 0}


def _passed(tick: Tick, record: AnalysisRecord, tag: TagVersion) -> Decision:
    tick = replace(tick, status=tick.status.model_copy(update=RESET))
    status, weights = tick.status, tick.spec.canary.weights()
    if status.step + 1 >= len(weights):
        message = f"analysis passed at {status.canary_weight}%: promoting v{status.canary_version}"
        return to_promotion(tick, message, tag)
    weight = weights[status.step + 1]
    low, high = canary_bounds(tick.spec.autoscaling, weight)
    position = f"step {status.step + 2}/{len(weights)}"
    message = f"analysis passed at {status.canary_weight}%; {position}: weight {weight}%"
    return go(
        tick,
        Phase.PROGRESSING,
        "Advanced",
        message,
        ScaleCanary(low, high),
        SetWeight(weight),
        tag,
        step=status.step + 1,
        canary_weight=weight,
    )


def _failed(tick: Tick, record: AnalysisRecord, tag: TagVersion) -> Decision:
    failed, threshold = tick.status.failed_checks + 1, tick.spec.canary.failure_threshold
    tick = replace(tick, status=tick.status.model_copy(update={"failed_checks": failed, **RESET}))
    message = f"failed check {failed}/{threshold}: {record.message}"
    if failed >= threshold:
        return rollback(tick, "FailedChecks", message).then(tag)
    event = EmitEvent("AnalysisFailed", message, "Warning")
    return hold(tick, message, tag, event)


def _inconclusive(tick: Tick, record: AnalysisRecord, tag: TagVersion) -> Decision:
    status, analysis = tick.status, tick.spec.analysis
    down = record.reason == "PrometheusUnreachable"
    unreachable = status.unreachable_count + 1 if down else 0
    inconclusive = status.inconclusive_count + 1
    counts = {"inconclusive_count": inconclusive, "unreachable_count": unreachable}
    tick = replace(tick, status=status.model_copy(update=counts))
    if unreachable >= analysis.max_unreachable:
        message = f"Prometheus unreachable for {unreachable} analyses in a row: {record.message}"
        return rollback(tick, "PrometheusUnreachable", message).then(tag)
    if analysis.max_inconclusive and inconclusive >= analysis.max_inconclusive:
        message = f"{inconclusive} inconclusive analyses in a row: {record.message}"
        return rollback(tick, "Inconclusive", message).then(tag)
    message = (
        f"analysis inconclusive ({record.reason}) at {status.canary_weight}%: {record.message}"
    )
    events = (EmitEvent("PrometheusUnreachable", record.message, "Warning"),) if down else ()
    return hold(tick, message, tag, *events)


JUDGED = {Verdict.PASSED: _passed, Verdict.FAILED: _failed, Verdict.INCONCLUSIVE: _inconclusive}


def progressing(tick: Tick) -> Decision:
    if not tick.readings.canary.serving(tick.candidate_uri):
        return _unready(tick)
    status = tick.status.model_copy(update={"canary_not_ready_since": None})
    if not analysis_due(tick.spec, status, tick.now):
        return Decision(status)
    record = evaluate(tick.spec, status, tick.readings.metrics, tick.now, tick.readings.paired)
    record = with_hook_gates(tick.spec, record, tick.readings)
    limit = tick.spec.analysis.history_limit
    status = status.model_copy(
        update={
            "last_analysis": record,
            "history": [*status.history, record][-limit:],
            "analysis_count": status.analysis_count + 1,
            "last_analysis_time": tick.now,
        }
    )
    name, version = status.model_name or "", status.canary_version or ""
    tag = TagVersion(name, version, analysis_tag(record, status.analysis_count), best_effort=True)
    return JUDGED[record.verdict](replace(tick, status=status), record, tag)
