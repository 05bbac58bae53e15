"""Whether a tick can leave a ModelRollout alone without reading anything (pure).

A finished rollout (Succeeded, Failed) acts again only on: its deletion, an operator action
annotation (``retry``; any other is answered "ignored"), a spec the status has not seen yet
(``observedGeneration``: a new ``model.uri``, new post-rollout hooks...) or a new candidate
behind the same URI (an alias moved). When none of these holds, ``decide`` would return the
status unchanged with no action and no event, so the tick may skip the reconcile: no fresh
read, no Deployment reads, no registry call. Anything else is reconciled as before.
"""

from __future__ import annotations

from datetime import datetime

from controller.rollout.due import hooks_due
from controller.spec import RolloutSpec
from controller.status import TERMINAL, RolloutStatus


def at_rest(
    spec: RolloutSpec,
    status: RolloutStatus,
    now: datetime,
    *,
    generation: int,
    deleting: bool,
    action: str | None,
    candidate: str | None,
) -> bool:
    """True when ``decide`` on this tick would change nothing and do nothing.

    ``candidate`` is ``spec.model.uri`` resolved now (``None``: unresolvable, which never
    restarts a rollout)."""
    if status.phase not in TERMINAL or deleting or action:
        return False
    if status.observed_generation != generation:
        return False
    if candidate is not None and candidate != status.canary_version:
        return False
    if any(status.hook(h.name) is None for h in spec.hooks("post-rollout")):
        return False
    return not hooks_due(spec, status, now)
