"""Operator actions by annotation (``mlops.creditrisk.io/action``): approve, promote, abort,
retry, pause, resume. Each is handled once, then the annotation is cleared; an action that
makes no sense in the current phase is ignored with a Warning event. Who set it
(``mlops.creditrisk.io/action-by``, stamped by the admission policy) is recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from controller.rollout.actions import ClearOperatorAction, EmitEvent, TagVersion
from controller.rollout.checkpoints import to_promotion, to_traffic
from controller.rollout.moves import pause, promote, resume, rollback, start
from controller.rollout.records import approval_tags
from controller.rollout.transitions import CONTRACT, Decision, Tick
from controller.status import ACTIVE, PAUSABLE, Approval, Phase

ACTIONS = ("approve", "promote", "abort", "retry", "pause", "resume")
UNKNOWN_ACTOR = "unknown"  # no action-by annotation: the admission policy is not installed


def _approve(tick: Tick) -> Decision | None:
    """Record the sign-off the rollout waits for, then go on from that checkpoint."""
    status, point = tick.status, tick.status.awaiting
    if status.phase is not Phase.AWAITING_APPROVAL or point is None:
        return None
    by = tick.readings.action_by or UNKNOWN_ACTOR
    signed = Approval(point=point, version=status.canary_version, by=by, at=tick.now)
    status = status.model_copy(update={"approvals": [*status.approvals, signed], "awaiting": None})
    tick = replace(tick, status=status)
    version = status.canary_version
    if point == "beforeTraffic":
        after = to_traffic(tick)
    else:
        after = to_promotion(tick, f"approved by {by}: promoting v{version}")
    name = status.model_name or ""
    tag = TagVersion(name, version or "", approval_tags(signed), best_effort=True)
    event = EmitEvent("Approved", f"{point} sign-off for v{version} by {by}")
    return Decision(after.status, (*after.effects, tag, event, *after.events))


def _promote(tick: Tick) -> Decision | None:
    contract = tick.status.condition(CONTRACT)
    if tick.status.phase not in ACTIVE or contract is None or contract.status != "True":
        return None
    return promote(
        tick, "PromotedByOperator", f"promote requested: promoting v{tick.status.canary_version}"
    )


def _abort(tick: Tick) -> Decision | None:
    if tick.status.phase not in ACTIVE:
        return None
    return rollback(tick, "Aborted", "aborted by operator")


def _retry(tick: Tick) -> Decision | None:
    if tick.status.phase is not Phase.FAILED or tick.status.canary_version is None:
        return None
    return start(tick, "Retried", retries=tick.status.retries + 1)


def _pause(tick: Tick) -> Decision | None:
    return pause(tick, "annotation") if tick.status.phase in PAUSABLE else None


def _resume(tick: Tick) -> Decision | None:
    if tick.status.phase is not Phase.PAUSED or tick.spec.paused:
        return None
    return resume(tick)


HANDLERS: dict[str, Callable[[Tick], Decision | None]] = {
    "approve": _approve,
    "promote": _promote,
    "abort": _abort,
    "retry": _retry,
    "pause": _pause,
    "resume": _resume,
}


def operator_action(tick: Tick, action: str) -> Decision:
    """The decision for an annotation ``action``; the annotation is always cleared."""
    handler = HANDLERS.get(action.strip().lower())
    decision = handler(tick) if handler else None
    if decision is None:
        why = f"action {action!r} ignored in phase {tick.status.phase}"
        if handler is None:
            why = f"unknown action {action!r} (use one of {', '.join(ACTIONS)})"
        ignored = {"last_action": f"{action} (ignored)", "last_action_by": tick.readings.action_by}
        status = tick.status.model_copy(update=ignored)
        return Decision(status, (ClearOperatorAction(), EmitEvent("ActionIgnored", why, "Warning")))
    done = {"last_action": action, "last_action_by": tick.readings.action_by}
    status = decision.status.model_copy(update=done)
    return decision.then(ClearOperatorAction(), status=status)
