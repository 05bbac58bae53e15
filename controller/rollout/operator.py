"""Operator actions by annotation (``mlops.creditrisk.io/action``): promote, abort, retry,
pause, resume. Each is handled once, then the annotation is cleared; an action that makes
no sense in the current phase is ignored with a Warning event."""

from __future__ import annotations

from collections.abc import Callable

from controller.rollout.actions import ClearOperatorAction, EmitEvent
from controller.rollout.moves import pause, promote, resume, rollback, start
from controller.rollout.transitions import CONTRACT, Decision, Tick
from controller.status import ACTIVE, PAUSABLE, Phase

ACTIONS = ("promote", "abort", "retry", "pause", "resume")


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
        status = tick.status.model_copy(update={"last_action": f"{action} (ignored)"})
        return Decision(status, (ClearOperatorAction(), EmitEvent("ActionIgnored", why, "Warning")))
    status = decision.status.model_copy(update={"last_action": action})
    return Decision(status, (*decision.effects, ClearOperatorAction(), *decision.events))
