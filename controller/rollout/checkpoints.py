"""The two checkpoints of a rollout: before the first traffic step and before promotion.

Once the canary is ready at weight 0 (contract compatible), ``to_traffic`` runs the
before-traffic stages in order; once the last step's analysis passed, ``to_promotion``
runs the before-promotion stages. A stage returns a Decision when it is not yet satisfied
(hold, move to its own phase, or roll back) and ``None`` when it is; its progress lives in
``status``, so a phase of its own (e.g. a shadow comparison or a sign-off) comes back here
when it is done and the next stage runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from controller.rollout import approval
from controller.rollout.actions import Action, ScaleCanary, SetWeight
from controller.rollout.moves import promote
from controller.rollout.shadow import shadow_cleared, shadow_stage
from controller.rollout.transitions import Decision, Tick, canary_bounds, go
from controller.rollout.webhooks import confirm_promotion, confirm_rollout, pre_rollout
from controller.status import Phase

Stage = Callable[[Tick], Decision | None]

# The shadow phase first (a candidate that fails it never reaches a hook or a signer), and
# after it the canary re-templated without the shadow flag and ready again; then webhook
# stages: they hold in the checkpoint's own phase (Initializing, Progressing),
# which runs the checkpoint again on every tick (before traffic) or analysis (before
# promotion); a sign-off then holds in AwaitingApproval and comes back here once approved.
BEFORE_TRAFFIC: Sequence[Stage] = (
    shadow_stage,
    shadow_cleared,
    confirm_rollout,
    pre_rollout,
    approval.before_traffic,
)
BEFORE_PROMOTION: Sequence[Stage] = (confirm_promotion, approval.before_promotion)


def _first_stage(tick: Tick, stages: Sequence[Stage]) -> Decision | None:
    for stage in stages:
        decision = stage(tick)
        if decision is not None:
            return decision
    return None


def first_step(tick: Tick) -> Decision:
    """The canary takes the first step's weight; analysis starts one interval later."""
    first = tick.spec.canary.weights()[0]
    low, high = canary_bounds(tick.spec.autoscaling, first)
    return go(
        tick,
        Phase.PROGRESSING,
        "Progressing",
        f"canary v{tick.status.canary_version} ready; weight {first}%",
        ScaleCanary(low, high),
        SetWeight(first),
        canary_weight=first,
        step=0,
        last_analysis_time=tick.now,
    )


def to_traffic(tick: Tick) -> Decision:
    """The before-traffic stages, then the first step."""
    return _first_stage(tick, BEFORE_TRAFFIC) or first_step(tick)


def to_promotion(tick: Tick, message: str, *after: Action) -> Decision:
    """The before-promotion stages, then ``Promoting``; ``after`` (e.g. the last analysis'
    tag) is applied after the decision's own effects, before its events."""
    decision = _first_stage(tick, BEFORE_PROMOTION) or promote(tick, "Promoting", message)
    return decision.then(*after)
