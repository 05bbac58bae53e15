"""Moves shared by the phases and the operator actions: start, roll back, promote,
pause and resume. Each returns a Decision whose actions make the move safe first."""

from __future__ import annotations

from controller.rollout.actions import (
    Action,
    HoldStableHPAMin,
    PromoteStable,
    ScaleCanaryDown,
    SetWeight,
)
from controller.rollout.transitions import (
    PAUSED,
    PROMOTED,
    Decision,
    Tick,
    fresh_rollout,
    go,
    with_condition,
)
from controller.status import Phase, Promotion


def start(tick: Tick, reason: str, *, retries: int = 0) -> Decision:
    """A new attempt at the resolved candidate; traffic goes back to stable first."""
    version = tick.readings.candidate_version or tick.status.canary_version
    assert version is not None, "start() needs a resolved candidate"
    back = (SetWeight(0),) if tick.status.canary_weight > 0 else ()
    status = fresh_rollout(tick, version, retries=retries)
    if version == status.stable_version:
        status = with_condition(status, PROMOTED, "True", "AlreadyStable", "", tick.now)
        msg = f"candidate v{version} is already the stable version"
        return go(tick, Phase.SUCCEEDED, "AlreadyStable", msg, *back, status=status)
    msg = f"rolling out v{version} (stable v{status.stable_version}): checking its contract"
    return go(tick, Phase.INITIALIZING, reason, msg, *back, status=status)


def rollback(tick: Tick, reason: str, message: str) -> Decision:
    """Traffic to stable and the canary scaled away now; recorded as Failed next tick."""
    status = with_condition(tick.status, PROMOTED, "False", reason, message, tick.now)
    status = with_condition(status, PAUSED, "False", "Resumed", "", tick.now)
    return go(
        tick,
        Phase.ROLLING_BACK,
        reason,
        f"rolling back: {message}",
        SetWeight(0),
        ScaleCanaryDown(),
        warning=True,
        status=status,
        canary_weight=0,
        paused_from=None,
        paused_by=None,
    )


def promote(tick: Tick, reason: str, message: str) -> Decision:
    """Hold the stable HPA floor at the current total, then roll stable onto the candidate."""
    readings, actions = tick.readings, list[Action]()
    total = readings.stable.replicas + readings.canary.replicas
    promotion = Promotion()
    if readings.stable_hpa is not None:
        hpa = readings.stable_hpa
        original = hpa.held_from if hpa.held_from is not None else hpa.min_replicas
        held = min(hpa.max_replicas, max(original, total))
        promotion = Promotion(stable_hpa=hpa.name, original_min=original, held_min=held)
        actions.append(HoldStableHPAMin(hpa.name, held, original))
    actions.append(PromoteStable(tick.candidate_uri))
    status = with_condition(tick.status, PAUSED, "False", "Resumed", "", tick.now)
    return go(
        tick,
        Phase.PROMOTING,
        reason,
        message,
        *actions,
        status=status,
        promotion=promotion,
        paused_from=None,
        paused_by=None,
    )


def pause(tick: Tick, by: str) -> Decision:
    status = with_condition(tick.status, PAUSED, "True", f"PausedBy{by.title()}", "", tick.now)
    message = f"paused by {by} in phase {tick.status.phase}"
    return go(
        tick,
        Phase.PAUSED,
        "Paused",
        message,
        status=status,
        paused_from=tick.status.phase,
        paused_by=by,
    )


def resume(tick: Tick) -> Decision:
    """Back to the paused phase; its deadline and analysis interval restart now."""
    back = tick.status.paused_from or Phase.PENDING
    status = with_condition(tick.status, PAUSED, "False", "Resumed", "", tick.now)
    restart = tick.now if back is Phase.PROGRESSING else tick.status.last_analysis_time
    return go(
        tick,
        back,
        "Resumed",
        f"resumed into {back}",
        status=status,
        paused_from=None,
        paused_by=None,
        last_analysis_time=restart,
        canary_not_ready_since=None,
    )
