"""The ``Shadowing`` phase on a tick: wait for ``shadow.duration`` and ``minRequests``
paired decisions, judge the paired gates, then on to traffic (mirror off) or roll back
before any applicant saw the candidate. No verdict within ``shadow.timeout`` (too few
pairs, no data, Prometheus unreachable, canary unready) rolls back as well."""

from __future__ import annotations

from dataclasses import replace

from controller.durations import format_duration
from controller.rollout.actions import EmitEvent, EnsureCanary, SetMirror, TagVersion
from controller.rollout.checkpoints import to_traffic
from controller.rollout.moves import rollback
from controller.rollout.records import shadow_tag
from controller.rollout.shadow import describe, judge, shadow_stage, summary
from controller.rollout.transitions import Decision, Tick, canary_bounds, hold
from controller.status import ShadowResult, Verdict


def _with(tick: Tick, record: ShadowResult) -> Tick:
    return replace(tick, status=tick.status.model_copy(update={"shadow": record}))


def _leave(tick: Tick, record: ShadowResult | None, message: str) -> Decision:
    """Mirror off, the result recorded (Event, best-effort MLflow tag), then the next
    before-traffic stage or the first step."""
    tick = _with(tick, record) if record is not None else tick
    decision = to_traffic(tick)
    name, version = tick.status.model_name or "", tick.status.canary_version or ""
    tags = () if record is None else (TagVersion(name, version, shadow_tag(record), True),)
    event = EmitEvent("ShadowPassed" if record is not None else "ShadowSkipped", message)
    return Decision(
        decision.status, (SetMirror(0), *tags, *decision.effects, event, *decision.events)
    )


def _timeout(tick: Tick, record: ShadowResult) -> Decision | None:
    timeout = tick.spec.shadow.timeout
    if tick.elapsed(record.started_at) <= timeout:
        return None
    why = record.message or "no paired figures yet"
    message = f"no shadow verdict within {format_duration(timeout)}: {why}"
    finished = record.model_copy(update={"finished_at": tick.now})
    return rollback(_with(tick, finished), "ShadowInconclusive", message)


def _unready(tick: Tick, record: ShadowResult) -> Decision:
    canary, uri = tick.readings.canary, tick.candidate_uri
    current = canary.exists and canary.model_uri == uri and canary.replicas > 0
    current = current and canary.baseline_uri == tick.baseline_uri
    current = current and canary.shadow == tick.shadow_flag
    low, _ = canary_bounds(tick.spec.autoscaling, tick.spec.canary.weights()[0])
    ensure = () if current else (EnsureCanary(uri, low, tick.baseline_uri, tick.shadow_flag),)
    message = f"canary not ready ({canary.ready}/{canary.replicas}): shadow held"
    return _timeout(tick, record) or hold(tick, message, *ensure)


def shadowing(tick: Tick) -> Decision:
    shadow, status = tick.spec.shadow, tick.status
    record = status.shadow
    if not shadow.enabled:
        return _leave(tick, None, "shadow disabled in the spec: shadow phase skipped")
    if record is None or record.canary_version != status.canary_version:
        return shadow_stage(tick) or _leave(tick, None, "shadow phase not needed")
    if record.passed:  # judged already (e.g. a restart): on with the next stages
        return to_traffic(tick)
    canary = tick.readings.canary
    current = canary.baseline_uri == tick.baseline_uri and canary.shadow == tick.shadow_flag
    if not canary.serving(tick.candidate_uri) or not current:
        return _unready(tick, record)
    waiting = f"shadowing v{status.canary_version}: {describe(shadow)}"
    paired = tick.readings.paired
    if paired is None or tick.elapsed(record.started_at) < shadow.duration:
        return _timeout(tick, record) or hold(tick, waiting)
    result = judge(shadow, paired, record, tick.now)
    if result.verdict is Verdict.PASSED:
        done = result.model_copy(update={"finished_at": tick.now})
        return _leave(tick, done, f"shadow passed: {summary(done)}")
    if result.verdict is Verdict.FAILED:
        done = result.model_copy(update={"finished_at": tick.now})
        message = f"shadow failed ({result.message}): {summary(done)}"
        return rollback(_with(tick, done), "ShadowFailed", message)
    held = f"shadow inconclusive ({result.reason}: {result.message}); {describe(shadow)}"
    return _timeout(_with(tick, result), result) or hold(_with(tick, result), held)
