"""THE decision function of the ModelRollout controller.

``decide(spec, status, readings, now) -> Decision(status, actions)`` is pure: it imports
neither kopf nor kubernetes, performs no I/O and reads no clock. Rules run in this order:

1. deletion: traffic back to stable, canary objects removed;
2. an operator action annotation (promote, abort, retry, pause, resume);
3. a changed candidate (new spec URI or alias moved): restart the rollout on it;
4. ``spec.paused``: pause;
5. the current phase's handler (``phases.HANDLERS``);

then a change of ``spec.shadow.enabled`` while the candidate takes traffic is noted as
waiting for the next candidate (``shadow_change``).

Webhook answers (``readings.hooks``) are folded into the status before rule 1, and the
fire-once hooks of the phase reached are appended after (``webhooks``).
"""

from __future__ import annotations

from datetime import datetime

from controller.rollout import webhooks
from controller.rollout.actions import DeleteCanary, EmitEvent, SetWeight
from controller.rollout.moves import pause, release_floor, start
from controller.rollout.operator import operator_action
from controller.rollout.phases import HANDLERS
from controller.rollout.readings import Readings
from controller.rollout.shadow_change import note_shadow_change
from controller.rollout.transitions import Decision, Tick, mirror_off
from controller.spec import RolloutSpec
from controller.status import ACTIVE, PAUSABLE, TERMINAL, RolloutStatus

__all__ = ["Decision", "decide"]


def _deleted(tick: Tick) -> Decision:
    event = EmitEvent("Deleted", "ModelRollout deleted: all traffic to stable, canary removed")
    effects = (SetWeight(0), *mirror_off(tick), DeleteCanary(), *release_floor(tick))
    return Decision(tick.status, (*effects, event))


def _candidate_changed(tick: Tick) -> Decision | None:
    status, version = tick.status, tick.readings.candidate_version
    if version is None or version == status.canary_version:
        return None
    if status.phase in ACTIVE:
        return start(tick, "CandidateChanged")
    if status.phase in TERMINAL:
        return start(tick, "NewCandidate")
    return None  # Pending starts anyway; Promoting and RollingBack finish first


def decide(spec: RolloutSpec, status: RolloutStatus, readings: Readings, now: datetime) -> Decision:
    """The next status and the actions that lead there (applied before it is recorded).

    This tick's webhook answers are recorded in the status first; the fire-once hooks
    (post-rollout, rollback) of the phase reached are added last."""
    status = status.model_copy(update={"observed_generation": readings.generation})
    decision = _decide(spec, webhooks.record(spec, status, readings, now), readings, now)
    return decision if readings.deleting else webhooks.fire_once(spec, decision, now)


def _decide(
    spec: RolloutSpec, status: RolloutStatus, readings: Readings, now: datetime
) -> Decision:
    tick = Tick(spec, status, readings, now)
    if readings.deleting:
        return _deleted(tick)
    return note_shadow_change(tick, _rules(tick))


def _rules(tick: Tick) -> Decision:
    spec, status, readings = tick.spec, tick.status, tick.readings
    if readings.action:
        return operator_action(tick, readings.action)
    changed = _candidate_changed(tick)
    if changed is not None:
        return changed
    if spec.paused and status.phase in PAUSABLE:
        return pause(tick, "spec")
    return HANDLERS[status.phase](tick)
