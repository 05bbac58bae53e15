"""The shadow phase's pure parts: the before-traffic stage that enters it, when the
adapters read the paired figures, and the gates that judge them.

While ``Shadowing`` the canary stays at weight 0 and the router mirrors
``shadow.percent`` % of live requests to it; the gateway discards its answers, so no
applicant sees the candidate. The canary pods score each mirrored applicant with the
candidate and the pinned stable version (``BASELINE_MODEL_URI``), so the gates compare
the two models on the same applicants.
"""

from __future__ import annotations

from datetime import datetime

from controller.durations import format_duration
from controller.rollout.actions import EnsureCanary, ScaleCanary, SetMirror
from controller.rollout.moves import rollback
from controller.rollout.paired import figures, paired_gates, paired_record
from controller.rollout.readings import PairedReadings
from controller.rollout.transitions import Decision, Tick, canary_bounds, go, hold
from controller.spec import RolloutSpec, ShadowSpec
from controller.status import GateResult, Phase, RolloutStatus, ShadowResult, Verdict


def shadow_stage(tick: Tick) -> Decision | None:
    """Before traffic: enter ``Shadowing`` (mirror on) unless shadow is off or this
    candidate already passed it."""
    shadow, status = tick.spec.shadow, tick.status
    if not shadow.enabled:
        return None
    done = status.shadow
    if done is not None and done.canary_version == status.canary_version and done.passed:
        return None
    if not status.stable_version:
        message = "shadow phase impossible: the stable Deployment serves no registry version"
        return rollback(tick, "ShadowImpossible", message)
    record = ShadowResult(
        canary_version=status.canary_version,
        baseline_version=status.stable_version,
        started_at=tick.now,
    )
    message = (
        f"v{status.canary_version} ready at weight 0: {shadow.percent}% of live requests "
        f"mirrored to it (answers discarded), compared with v{status.stable_version}"
    )
    mirror = SetMirror(shadow.percent)
    return go(tick, Phase.SHADOWING, "ShadowStarted", message, mirror, shadow=record)


def shadow_cleared(tick: Tick) -> Decision | None:
    """Before traffic, after this candidate's shadow phase (passed, or skipped mid-phase):
    its pods ran as shadow pods (``INFERENCE_SHADOW``, no decision recorded), so no
    traffic until the canary is re-templated without the flag and fully rolled out again
    (at weight 0: no applicant waits). Waits in ``Initializing``, whose own check (the
    template as the tick needs it) brings it back here once the canary is ready."""
    canary, status, uri = tick.readings.canary, tick.status, tick.candidate_uri
    record = status.shadow
    shadowed = record is not None and record.canary_version == status.canary_version
    if not (canary.shadow or shadowed) or (not canary.shadow and canary.serves(uri)):
        return None
    low, high = canary_bounds(tick.spec.autoscaling, tick.spec.canary.weights()[0])
    current = canary.exists and canary.model_uri == uri and canary.replicas > 0
    current = current and not canary.shadow and canary.baseline_uri == tick.baseline_uri
    ensure = () if current else (EnsureCanary(uri, low, tick.baseline_uri), ScaleCanary(low, high))
    message = (
        f"v{status.canary_version} re-templated without the shadow flag (its decisions are "
        f"recorded from now on): waiting for it at weight 0 ({canary.ready}/{canary.replicas} "
        "ready)"
    )
    if status.phase is Phase.INITIALIZING:
        return hold(tick, message, *ensure)
    return go(tick, Phase.INITIALIZING, "CanaryRetemplated", message, *ensure)


def shadow_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether this tick reads the paired figures: in ``Shadowing``, once ``duration`` has
    passed, then at most once per ``canary.interval``."""
    record = status.shadow
    if status.phase is not Phase.SHADOWING or record is None or record.started_at is None:
        return False
    if (now - record.started_at).total_seconds() < spec.shadow.duration:
        return False
    checked = record.checked_at
    return checked is None or (now - checked).total_seconds() >= spec.canary.interval


def shadow_window(status: RolloutStatus, now: datetime) -> float:
    """Seconds of the phase so far: the range of the paired queries (at least 1 s)."""
    started = status.shadow.started_at if status.shadow else None
    return max(1.0, round((now - started).total_seconds())) if started else 1.0


def _verdict(gates: list[GateResult]) -> tuple[Verdict, str, str]:
    failed = [g for g in gates if g.verdict == "Failed"]
    if failed:
        parts = [f"{g.name} {g.value:.4g} > {g.max:g}" for g in failed]
        return Verdict.FAILED, "GateFailed", "; ".join(parts)
    missing = [g.name for g in gates if g.verdict == "NoData"]
    if missing:
        return Verdict.INCONCLUSIVE, "NoData", "no data for " + ", ".join(missing)
    undecided = [
        f"{g.name} bound {g.value:.4g} > {g.max:g}, not shown worse"
        for g in gates
        if g.verdict == "Undecided"
    ]
    if undecided:
        return Verdict.INCONCLUSIVE, "Undecided", "; ".join(undecided)
    return Verdict.PASSED, "GatesPassed", "every paired gate passed"


def judge(
    shadow: ShadowSpec, paired: PairedReadings, record: ShadowResult, now: datetime
) -> ShadowResult:
    """The shadow phase's figures and verdict so far (``Inconclusive`` until there are
    ``minRequests`` paired decisions and data for every enabled gate)."""
    checked = record.model_copy(update={"checked_at": now})
    if not paired.online:
        return checked.model_copy(
            update={
                "verdict": Verdict.INCONCLUSIVE,
                "reason": "PrometheusUnreachable",
                "message": paired.error,
            }
        )
    found = figures(paired, shadow.confidence)
    update = dict(paired_record(found))
    if found.pairs < shadow.min_requests:
        message = f"{found.pairs:g} of {shadow.min_requests} paired decisions"
        reason = "TooFewPairs"
        return checked.model_copy(
            update={**update, "verdict": Verdict.INCONCLUSIVE, "reason": reason, "message": message}
        )
    gates = paired_gates(shadow.gates, found)
    verdict, reason, message = _verdict(gates)
    if paired.error:
        message = f"{message} ({paired.error})"
    return checked.model_copy(
        update={**update, "gates": gates, "verdict": verdict, "reason": reason, "message": message}
    )


def summary(record: ShadowResult) -> str:
    """One line for messages and Events: pairs, flips and the judged figures."""

    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4g}"

    return (
        f"{show(record.pairs)} pairs, {show(record.flips)} flips "
        f"(rate {show(record.flip_rate)}, interval {show(record.flip_rate_lower)}"
        f"-{show(record.flip_rate_upper)}), "
        f"mean |score diff| {show(record.mean_abs_diff)}, score PSI {show(record.score_psi)}"
    )


def describe(shadow: ShadowSpec) -> str:
    return (
        f"verdict after {format_duration(shadow.duration)} and {shadow.min_requests} paired "
        f"decisions (timeout {format_duration(shadow.timeout)})"
    )
