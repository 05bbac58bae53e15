"""Moves shared by the phases and the operator actions: start, roll back, promote,
pause and resume. Each returns a Decision whose actions make the move safe first."""

from __future__ import annotations

from controller.rollout.actions import (
    Action,
    HoldStableHPAMin,
    RestoreStableHPAMin,
    ScaleCanaryDown,
    SetWeight,
)
from controller.rollout.readings import HPAReading
from controller.rollout.transitions import (
    PAUSED,
    PROMOTED,
    Decision,
    Tick,
    fresh_rollout,
    go,
    mirror_off,
    with_condition,
)
from controller.status import Phase, Promotion


def start(tick: Tick, reason: str, *, retries: int = 0) -> Decision:
    """A new attempt at the resolved candidate; traffic goes back to stable first."""
    version = tick.readings.candidate_version or tick.status.canary_version
    assert version is not None, "start() needs a resolved candidate"
    back = (SetWeight(0),) if tick.status.canary_weight > 0 else ()
    back = (*back, *mirror_off(tick))
    status = fresh_rollout(tick, version, retries=retries)
    if version == status.stable_version:
        status = with_condition(status, PROMOTED, "True", "AlreadyStable", "", tick.now)
        msg = f"candidate v{version} is already the stable version"
        return go(tick, Phase.SUCCEEDED, "AlreadyStable", msg, *back, status=status)
    msg = f"rolling out v{version} (stable v{status.stable_version}): checking its contract"
    return go(tick, Phase.INITIALIZING, reason, msg, *back, status=status)


def release_floor(tick: Tick) -> tuple[Action, ...]:
    """Give the stable HPA its floor back: the one ``status.promotion`` recorded, or one a
    promotion raised but never recorded (the operator died in between: the HPA still
    carries the original floor in its annotation)."""
    held = tick.status.promotion
    if held and held.stable_hpa and held.original_min is not None:
        return (RestoreStableHPAMin(held.stable_hpa, held.original_min),)
    hpa = tick.readings.stable_hpa
    if hpa is not None and hpa.held_from is not None:
        return (RestoreStableHPAMin(hpa.name, hpa.held_from),)
    return ()


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
        *mirror_off(tick),
        ScaleCanaryDown(),
        *release_floor(tick),
        warning=True,
        status=status,
        canary_weight=0,
        paused_from=None,
        paused_by=None,
    )


def held_floor(hpa: HPAReading, total: int) -> tuple[int, int]:
    """(original, held) floor of the stable HPA during a promotion: the current total.

    A floor already held (a promotion raised it, then the operator died before recording
    it) is kept as it is: recomputed, it would count the replicas it has added since and
    be raised again on every attempt."""
    if hpa.held_from is not None:
        return hpa.held_from, hpa.min_replicas
    return hpa.min_replicas, min(hpa.max_replicas, max(hpa.min_replicas, total))


def promote(tick: Tick, reason: str, message: str) -> Decision:
    """Hold the stable HPA floor at the current total and record ``Promoting``.

    The stable Deployment is not touched here: ``phases.promoting`` rolls it onto the
    candidate once the promotion is recorded. If the operator dies before the status is
    written, the stable still serves the old version, the next analysis decides again, and
    a rollback gives the held floor back (``release_floor``)."""
    readings, actions = tick.readings, list[Action]()
    total = readings.stable.replicas + readings.canary.replicas
    promotion = Promotion()
    if readings.stable_hpa is not None:
        hpa = readings.stable_hpa
        original, held = held_floor(hpa, total)
        promotion = Promotion(stable_hpa=hpa.name, original_min=original, held_min=held)
        actions.append(HoldStableHPAMin(hpa.name, held, original))
    status = with_condition(tick.status, PAUSED, "False", "Resumed", "", tick.now)
    return go(
        tick,
        Phase.PROMOTING,
        reason,
        message,
        *mirror_off(tick),
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
    shadow = tick.status.shadow
    if back is Phase.SHADOWING and shadow is not None:  # the shadow window restarts too
        shadow = shadow.model_copy(update={"started_at": tick.now, "checked_at": None})
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
        shadow=shadow,
    )
