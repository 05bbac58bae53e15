"""Building blocks of decisions: the tick's inputs, the decision value, phase changes
(each with its Event), conditions, and the moves shared by several phases."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from controller.rollout.actions import Action, EmitEvent, SetMirror
from controller.rollout.readings import Readings
from controller.spec import AutoscalingSpec, RolloutSpec
from controller.status import Condition, Phase, RolloutStatus

PROMOTED = "Promoted"
CONTRACT = "ContractCompatible"
PAUSED = "Paused"


@dataclass(frozen=True)
class Tick:
    """Everything one decision looks at."""

    spec: RolloutSpec
    status: RolloutStatus
    readings: Readings
    now: datetime

    @property
    def candidate_uri(self) -> str:
        """The canary's pinned registry URI (``models:/name/VERSION``)."""
        return f"models:/{self.status.model_name}/{self.status.canary_version}"

    @property
    def taking_traffic(self) -> bool:
        """Whether this candidate is past its shadow phase: it took a traffic step
        (Progressing, or a weight above 0 in any later phase)."""
        return self.status.phase is Phase.PROGRESSING or self.status.canary_weight > 0

    @property
    def shadow_enabled(self) -> bool:
        """The shadow setting this candidate runs with: the spec's until it takes traffic;
        from then on whether it passed its shadow phase (a change of ``shadow.enabled``
        waits for the next candidate, see ``shadow_change``)."""
        if not self.taking_traffic:
            return self.spec.shadow.enabled
        record, version = self.status.shadow, self.status.canary_version
        return record is not None and record.canary_version == version and record.passed

    @property
    def baseline_uri(self) -> str | None:
        """The pinned stable version the canary pods score beside the candidate: set while
        shadow is enabled for this candidate (and kept for the canary steps; only the
        shadow flag goes)."""
        status = self.status
        if not self.shadow_enabled or not status.stable_version:
            return None
        return f"models:/{status.model_name}/{status.stable_version}"

    @property
    def shadow_flag(self) -> bool:
        """Whether the canary pods must be shadow pods (``INFERENCE_SHADOW``: they record
        no decision): while this candidate's shadow phase is ahead or under way. Off once
        it passed (or shadow is off), so its real canary decisions are recorded."""
        if self.baseline_uri is None:
            return False
        record, version = self.status.shadow, self.status.canary_version
        return not (record is not None and record.canary_version == version and record.passed)

    def elapsed(self, since: datetime | None) -> float:
        return (self.now - since).total_seconds() if since else 0.0


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: tuple[Action, ...] = field(default_factory=tuple)

    @property
    def effects(self) -> tuple[Action, ...]:
        """Actions to apply before the status is written (everything but events)."""
        return tuple(a for a in self.actions if not isinstance(a, EmitEvent))

    @property
    def events(self) -> tuple[EmitEvent, ...]:
        return tuple(a for a in self.actions if isinstance(a, EmitEvent))

    def then(self, *actions: Action, status: RolloutStatus | None = None) -> Decision:
        """This decision with ``actions`` applied after its own effects and before its
        events (and ``status`` instead of its own, if given)."""
        return Decision(
            self.status if status is None else status,
            (*self.effects, *actions, *self.events),
        )


def with_condition(
    status: RolloutStatus,
    kind: str,
    value: Literal["True", "False", "Unknown"],
    reason: str,
    message: str,
    now: datetime,
) -> RolloutStatus:
    """``status`` with condition ``kind`` set; lastTransitionTime moves only on a change."""
    old = status.condition(kind)
    since = old.last_transition_time if old is not None and old.status == value else now
    new = Condition(
        type=kind,
        status=value,
        reason=reason,
        message=message[:1024],
        last_transition_time=since,
        observed_generation=status.observed_generation,
    )
    others = [c for c in status.conditions if c.type != kind]
    return status.model_copy(update={"conditions": [*others, new]})


def go(
    tick: Tick,
    phase: Phase,
    reason: str,
    message: str,
    *actions: Action,
    warning: bool = False,
    status: RolloutStatus | None = None,
    **changes: Any,
) -> Decision:
    """A phase transition: apply ``actions``, record the new phase, then post an Event."""
    base = status or tick.status
    new = base.model_copy(
        update={"phase": phase, "phase_since": tick.now, "message": message, **changes}
    )
    event = EmitEvent(reason, message, "Warning" if warning else "Normal")
    return Decision(new, (*actions, event))


def hold(tick: Tick, message: str, *actions: Action, **changes: Any) -> Decision:
    """Stay in the phase; only the message (and given fields) change."""
    return Decision(tick.status.model_copy(update={"message": message, **changes}), actions)


def mirror_off(tick: Tick) -> tuple[Action, ...]:
    """The mirror removed, whenever one may be on: shadow enabled in the spec, or a
    Shadowing phase (also paused) whose spec was changed since. Idempotent, so every way
    out of the phase (rollback, abort, promote, new candidate, deletion) repeats it."""
    status = tick.status
    shadowing = Phase.SHADOWING in (status.phase, status.paused_from)
    return (SetMirror(0),) if tick.spec.shadow.enabled or shadowing else ()


def canary_bounds(autoscaling: AutoscalingSpec, weight: int) -> tuple[int, int]:
    """Canary HPA (min, max) for a traffic weight: the stable bounds scaled by the weight."""
    low = max(1, math.ceil(autoscaling.min_replicas * weight / 100))
    return low, max(low, math.ceil(autoscaling.max_replicas * weight / 100))


def fresh_rollout(tick: Tick, version: str, *, retries: int = 0) -> RolloutStatus:
    """Status for a new attempt at ``version``: counters reset, history and conditions kept."""
    readings = tick.readings
    status = tick.status.model_copy(
        update={
            "model_name": readings.model_name or tick.status.model_name,
            "candidate_uri": tick.spec.model.uri,
            "canary_version": version,
            "stable_version": readings.stable_version or tick.status.stable_version,
            "canary_weight": 0,
            "step": 0,
            "failed_checks": 0,
            "inconclusive_count": 0,
            "unreachable_count": 0,
            "retries": retries,
            "started_at": tick.now,
            "last_analysis_time": None,
            "canary_not_ready_since": None,
            "paused_from": None,
            "paused_by": None,
            "promotion": None,
            "shadow": None,
            "hooks": [],
            "awaiting": None,
            "approvals": [],
        }
    )
    status = with_condition(
        status, PROMOTED, "False", "Progressing", f"rolling out v{version}", tick.now
    )
    return with_condition(status, CONTRACT, "Unknown", "NotChecked", "", tick.now)
