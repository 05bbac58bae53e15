"""In which order queued ticks run when more are due than workers can take (pure).

The timer of every ModelRollout fires each tick; when the workers are all busy the ticks
wait. They are taken earliest ``order`` first: a tick that finishes a rollback, answers a
deletion or an operator action goes before every other; the others in the order they
came, a tick of a rollout under analysis given a head start of ``spread`` seconds over one
that waits for a rollout or promotion, and that one ``spread`` over the tick of a finished
rollout (which is mostly skipped: ``idle.at_rest``). Bounded unfairness: nothing waits more
than ``2 * spread`` behind later ticks. Reads only the raw object, no parsing, so the
operator's event loop can order a tick before handing it to a thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

URGENT = frozenset({"RollingBack"})
ANALYSING = frozenset({"Progressing", "AwaitingApproval", "Shadowing"})
FINISHED = frozenset({"Succeeded", "Failed"})


def urgency(body: Mapping[str, Any] | None, action_annotation: str) -> int:
    """0: finish a rollback, a deletion or an operator action; 1: under analysis; 2:
    starting, paused or promoting; 3: finished."""
    if body is None:
        return 0
    meta = body.get("metadata") or {}
    phase = (body.get("status") or {}).get("phase")
    if meta.get("deletionTimestamp") or (meta.get("annotations") or {}).get(action_annotation):
        return 0
    if phase in URGENT:
        return 0
    if phase in ANALYSING:
        return 1
    return 3 if phase in FINISHED else 2


STARTING = frozenset({"Pending", "Initializing"})


def starting(body: Mapping[str, Any] | None, action_annotation: str) -> bool:
    """Whether the tick is one of a starting rollout (no status yet, Pending, Initializing:
    it reads its objects and contracts and writes its canary), which ``ticks.TickPool``
    runs a bounded number at a time. Never a tick of urgency 0 (a deletion, an operator
    action): those are not held back."""
    if body is None or urgency(body, action_annotation) == 0:
        return False
    phase = (body.get("status") or {}).get("phase")
    return phase is None or phase in STARTING


def order(level: int, arrived: float, spread: float) -> float:
    """The sort key of a tick of ``urgency`` ``level`` that arrived at ``arrived``
    (monotonic seconds): level 0 before all, the rest by arrival with a head start."""
    if level == 0:
        return float("-inf")
    return arrived + (level - 1) * spread
