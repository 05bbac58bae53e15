"""Sign-off stages (``canary.approval``): hold in ``AwaitingApproval`` until an operator
sets ``mlops.creditrisk.io/action=approve``; ``operator._approve`` records who and when.

``beforeTraffic`` holds the ready canary at weight 0; ``beforePromotion`` holds it at the
last step's weight, where the analysis goes on (a failing candidate is still rolled back
while nobody has signed). A sign-off counts for one version of one attempt: a new
candidate or a retry asks again.
"""

from __future__ import annotations

from controller.rollout.transitions import Decision, Tick, go, hold
from controller.status import ApprovalPoint, Phase, RolloutStatus

HOW = "kubectl annotate mro {name} mlops.creditrisk.io/action=approve"


def approved(status: RolloutStatus, point: ApprovalPoint) -> bool:
    version = status.canary_version
    return any(a.point == point and a.version == version for a in status.approvals)


def _await(tick: Tick, point: ApprovalPoint, message: str) -> Decision:
    if tick.status.phase is Phase.AWAITING_APPROVAL and tick.status.awaiting == point:
        return hold(tick, message)
    return go(tick, Phase.AWAITING_APPROVAL, "AwaitingApproval", message, awaiting=point)


def before_traffic(tick: Tick) -> Decision | None:
    if not tick.spec.canary.approval.before_traffic or approved(tick.status, "beforeTraffic"):
        return None
    version = tick.status.canary_version
    return _await(tick, "beforeTraffic", f"v{version} ready at weight 0: awaiting approval")


def before_promotion(tick: Tick) -> Decision | None:
    if not tick.spec.canary.approval.before_promotion or approved(tick.status, "beforePromotion"):
        return None
    status = tick.status
    message = (
        f"analysis passed at {status.canary_weight}%: awaiting approval to promote "
        f"v{status.canary_version} (analysis goes on)"
    )
    return _await(tick, "beforePromotion", message)
