"""What each phase does on a tick (pure; see ``decision.decide`` for the rules that run
before any phase: deletion, operator actions, candidate changes, pause)."""

from __future__ import annotations

from controller.rollout.actions import (
    DeleteCanary,
    EnsureCanary,
    MoveAlias,
    PromoteStable,
    ScaleCanary,
    ScaleCanaryDown,
    SetWeight,
    TagVersion,
)
from controller.rollout.checkpoints import to_traffic
from controller.rollout.moves import release_floor, resume, rollback, start
from controller.rollout.progress import progressing
from controller.rollout.records import verdict_tags
from controller.rollout.shadow_phase import shadowing
from controller.rollout.transitions import (
    CONTRACT,
    PROMOTED,
    Decision,
    Tick,
    canary_bounds,
    go,
    hold,
    mirror_off,
    with_condition,
)
from controller.status import Phase


def pending(tick: Tick) -> Decision:
    if not tick.readings.stable.exists:
        return hold(tick, f"waiting for the target Deployment {tick.spec.target_ref.name}")
    if tick.readings.candidate_version is None:
        return hold(tick, f"waiting for the candidate: {tick.readings.candidate_error}")
    return start(tick, "Started")


def _deadline_passed(tick: Tick) -> Decision | None:
    deadline = tick.spec.canary.progress_deadline
    if tick.elapsed(tick.status.phase_since) <= deadline:
        return None
    message = f"canary not ready within progressDeadline {deadline:g}s"
    return rollback(tick, "ProgressDeadlineExceeded", message)


def _refuse(tick: Tick, issues: tuple[str, ...]) -> Decision:
    message = "incompatible contract: " + "; ".join(issues)
    status = with_condition(tick.status, CONTRACT, "False", "Incompatible", message, tick.now)
    status = with_condition(status, PROMOTED, "False", "IncompatibleContract", message, tick.now)
    tags = verdict_tags(tick, "rejected", "IncompatibleContract", message)
    tag = TagVersion(status.model_name or "", status.canary_version or "", tags)
    return go(tick, Phase.FAILED, "IncompatibleContract", message, tag, warning=True, status=status)


def initializing(tick: Tick) -> Decision:
    """Contract gate, then canary objects at weight 0 until the canary is ready."""
    readings, uri = tick.readings, tick.candidate_uri
    if readings.contract is not None and not readings.contract.compatible:
        return _refuse(tick, readings.contract.issues)
    if readings.contract is None:
        return _deadline_passed(tick) or hold(tick, "checking the candidate's contract")
    status = with_condition(tick.status, CONTRACT, "True", "Compatible", "", tick.now)
    baseline = readings.canary.baseline_uri == tick.baseline_uri
    baseline = baseline and readings.canary.shadow == tick.shadow_flag
    if readings.canary.serves(uri) and baseline:
        return to_traffic(Tick(tick.spec, status, readings, tick.now))
    low, high = canary_bounds(tick.spec.autoscaling, tick.spec.canary.weights()[0])
    current = readings.canary.exists and readings.canary.model_uri == uri and baseline
    scaled = readings.canary.replicas > 0
    ensure = (
        ()
        if current and scaled
        else (
            EnsureCanary(uri, low, tick.baseline_uri, tick.shadow_flag),
            ScaleCanary(low, high),
        )
    )
    tick = Tick(tick.spec, status, readings, tick.now)
    ready = f"{readings.canary.ready}/{readings.canary.replicas}"
    return _deadline_passed(tick) or hold(tick, f"waiting for the canary ({ready} ready)", *ensure)


def paused(tick: Tick) -> Decision:
    if tick.status.paused_by == "spec" and not tick.spec.paused:
        return resume(tick)
    return Decision(tick.status)


def promoting(tick: Tick) -> Decision:
    """Wait for the stable rolling update, then route all traffic to it and clean up."""
    stable, uri, status = tick.readings.stable, tick.candidate_uri, tick.status
    if not stable.serves(uri):
        again = () if stable.model_uri == uri else (PromoteStable(uri),)
        progress = f"{stable.updated} updated, {stable.ready} ready of {stable.replicas}"
        return hold(tick, f"stable rolling onto v{status.canary_version}: {progress}", *again)
    name, version = status.model_name or "", status.canary_version or ""
    message = f"v{version} promoted: stable serves it at 100%"
    tags = verdict_tags(tick, "promoted", "Promoted", message, at=status.phase_since)
    status = with_condition(status, PROMOTED, "True", "Promoted", message, tick.now)
    return go(
        tick,
        Phase.SUCCEEDED,
        "Promoted",
        message,
        SetWeight(0),
        *mirror_off(tick),
        DeleteCanary(),
        *release_floor(tick),
        MoveAlias(name, version),
        TagVersion(name, version, tags),
        status=status,
        stable_version=version,
        canary_weight=0,
        promotion=None,
    )


def rolling_back(tick: Tick) -> Decision:
    """Re-assert the safe state, record the reason on the version, then Failed."""
    status = tick.status
    cond = status.condition(PROMOTED)
    reason = cond.reason if cond else "RolledBack"
    message = cond.message if cond else status.message
    tags = verdict_tags(tick, "rolled_back", reason, message, at=status.phase_since)
    tag = TagVersion(status.model_name or "", status.canary_version or "", tags)
    return go(
        tick,
        Phase.FAILED,
        "RolledBack",
        f"v{status.canary_version} rolled back: {message}",
        SetWeight(0),
        *mirror_off(tick),
        ScaleCanaryDown(),
        tag,
        warning=True,
    )


def awaiting_approval(tick: Tick) -> Decision:
    """Before traffic nothing moves; before promotion the analysis goes on at the last
    weight (``approval.before_promotion`` keeps the phase while it passes)."""
    if tick.status.awaiting == "beforePromotion":
        return progressing(tick)
    return Decision(tick.status)


def terminal(tick: Tick) -> Decision:
    return Decision(tick.status)


HANDLERS = {
    Phase.PENDING: pending,
    Phase.INITIALIZING: initializing,
    Phase.SHADOWING: shadowing,
    Phase.PROGRESSING: progressing,
    Phase.PAUSED: paused,
    Phase.AWAITING_APPROVAL: awaiting_approval,
    Phase.PROMOTING: promoting,
    Phase.ROLLING_BACK: rolling_back,
    Phase.SUCCEEDED: terminal,
    Phase.FAILED: terminal,
}
