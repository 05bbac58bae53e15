"""Independent writes of one reconcile issued side by side, and which effects may run so.

Only what is independent by construction goes side by side, and never the route write
that moves traffic: the executor runs the effects in order, one stage after the other
(``stages``), and an applier starts its side-by-side writes only once its ordered ones
have returned (``delete_canary``: the canary HPA first, then its Deployment and Service).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from controller.rollout import actions as act

T = TypeVar("T")

# Clean-up of the canary, after the route write that took its traffic away.
CANARY_CLEANUP: tuple[type, ...] = (act.DeleteCanary, act.ScaleCanaryDown)
# Touches only the stable HPA: independent of the canary's clean-up beside it.
STABLE_FLOOR: tuple[type, ...] = (act.RestoreStableHPAMin,)


def stages(effects: Sequence[Any]) -> list[list[Any]]:
    """The effects in order, grouped into stages whose actions may run side by side: a
    stable-HPA floor given back joins the canary clean-up right before it (different
    objects, both after the route write); every other action is a stage of its own."""
    out: list[list[Any]] = []
    for action in effects:
        previous = out[-1] if out else None
        if (
            isinstance(action, STABLE_FLOOR)
            and previous is not None
            and all(isinstance(a, CANARY_CLEANUP) for a in previous)
        ):
            previous.append(action)
        else:
            out.append([action])
    return out


def side_by_side(pool: Executor | None, calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``calls`` at once: the first in the calling thread, the rest on ``pool`` (all in
    turn without one); their results in order. Every call is waited for before the first
    exception (in ``calls`` order) is raised, so none is left running behind a failure.
    A call run on ``pool`` must not itself wait on ``pool`` (no nesting: no deadlock)."""
    if pool is None or len(calls) < 2:
        return [call() for call in calls]
    futures: list[Future[T]] = [pool.submit(call) for call in calls[1:]]
    results: list[Any] = []
    errors: list[BaseException] = []
    try:
        results.append(calls[0]())
    except BaseException as exc:  # raised after the others have finished
        errors.append(exc)
        results.append(None)
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as exc:
            errors.append(exc)
            results.append(None)
    if errors:
        raise errors[0]
    return results
