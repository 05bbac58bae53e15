"""Whether a tick can leave a rollout under analysis alone without reading anything (pure).

A Progressing rollout whose last reconcile found its canary serving (no
``canaryNotReadySince``) and ran its last analysis less than ``canary.interval`` ago has
nothing to do until that analysis is due: ``decide`` would return the status unchanged,
with no action and no event, unless something the status has not seen arrived. So the
tick may skip the reconcile (no fresh read, no Deployment reads, no Prometheus) when:

- the phase is Progressing (every other in-flight phase reconciles as before: Initializing,
  Shadowing, Paused, AwaitingApproval, Promoting, RollingBack...);
- no deletion, no operator action annotation;
- the spec is the one the status last saw (``observedGeneration == generation``);
- the canary was serving at the last reconcile (``canaryNotReadySince`` unset);
- no gating webhook is due (``due.hooks_due``: a before-traffic retry, a confirmation
  asked for...);
- ``0 <= now - lastAnalysisTime < interval``: the next analysis is not due yet (at exactly
  due the tick reconciles), and a stamp from the future is a doubt, not a reason to wait.

Safety net: ``lastAnalysisTime`` is written by a reconcile, so the ticks skipped in a row
all fall within one interval after a reconcile; the tick at which the analysis is due
always reconciles and sees the canary's Deployments, the route and the HPA as they are.
What a skipped tick could have noticed (a canary gone unready, an object edited by hand)
is noticed at most one interval late, never later.

A candidate moved behind the same URI (alias) is the caller's to check (it asks the
registry, which is I/O) and only when this says the tick may be skipped.
"""

from __future__ import annotations

from datetime import datetime

from controller.rollout.due import hooks_due
from controller.spec import RolloutSpec
from controller.status import Phase, RolloutStatus


def between_analyses(
    spec: RolloutSpec,
    status: RolloutStatus,
    now: datetime,
    *,
    generation: int,
    deleting: bool,
    action: str | None,
) -> bool:
    """True when this tick of a Progressing rollout has nothing to do until its next
    analysis (see the module docstring for each condition); any doubt is ``False``."""
    if status.phase is not Phase.PROGRESSING or deleting or action:
        return False
    if status.observed_generation != generation or spec.paused:
        return False
    if status.canary_not_ready_since is not None or status.last_analysis_time is None:
        return False
    elapsed = (now - status.last_analysis_time).total_seconds()
    if not 0 <= elapsed < spec.canary.interval:
        return False
    return not hooks_due(spec, status, now)
