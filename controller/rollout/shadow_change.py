"""``spec.shadow.enabled`` changed while the candidate takes traffic: the canary keeps the
template it has (no shadow pods taking real traffic, no baseline added or dropped, see
``Tick.shadow_enabled``); the change takes effect for the next candidate. Said once: the
``ShadowChangeDeferred`` condition is set with an Event when the change appears, and
removed when it no longer waits (switched back, or the next candidate started)."""

from __future__ import annotations

from controller.rollout.actions import EmitEvent
from controller.rollout.transitions import Decision, Tick, with_condition
from controller.status import RolloutStatus

SHADOW_CHANGE = "ShadowChangeDeferred"


def _deferred(tick: Tick) -> str | None:
    """The notice, if the spec's shadow setting differs from the one the candidate runs
    with."""
    wanted = tick.spec.shadow.enabled
    if not tick.taking_traffic or wanted == tick.shadow_enabled:
        return None
    change = "switched on" if wanted else "switched off"
    return (
        f"shadow {change} while v{tick.status.canary_version} takes traffic: its canary is "
        "not re-templated; the change takes effect for the next candidate"
    )


def _without(status: RolloutStatus) -> RolloutStatus:
    kept = [c for c in status.conditions if c.type != SHADOW_CHANGE]
    return status.model_copy(update={"conditions": kept})


def note_shadow_change(tick: Tick, decision: Decision) -> Decision:
    """``decision`` with the deferred-change notice set, kept or removed (``tick``: the
    spec, readings and time of the decision)."""
    after = Tick(tick.spec, decision.status, tick.readings, tick.now)
    message = _deferred(after)
    old = decision.status.condition(SHADOW_CHANGE)
    if message is None:
        return decision if old is None else Decision(_without(decision.status), decision.actions)
    if old is not None and old.message == message:
        return decision
    status = with_condition(
        decision.status, SHADOW_CHANGE, "True", "NextCandidate", message, tick.now
    )
    return decision.then(EmitEvent(SHADOW_CHANGE, message), status=status)
