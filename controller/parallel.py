"""Independent writes of one reconcile issued side by side, and which effects may run so.

Only what is independent by construction goes side by side, and never the route write
that moves traffic: the executor runs the effects in order, one stage after the other
(``stages``: the canary's clean-up, after the route write, with the stable HPA's floor
and the registry's records; the canary made at weight 0 with its HPA; the stable HPA's
floor held with the version's tags), and an applier
starts its side-by-side writes only once its ordered ones have returned
(``ensure_canary``: the Deployment's replicas patch after its own apply, beside the
Service's; ``scale_canary_down``: the canary HPA deleted before its Deployment is scaled
to zero, which it would scale back). ``delete_canary`` deletes every canary object at
once: a deleted Deployment has no ``scale`` for its HPA to write.
A failing effect still raises before the status is written (``side_by_side`` waits for
every lane first), so the next reconcile decides again from the old status; every
effect that may run beside another is idempotent, as each effect already had to be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from controller.rollout import actions as act

T = TypeVar("T")

# Clean-up of the canary, after the route write that took its traffic away: a stage opens.
CANARY_CLEANUP: tuple[type, ...] = (act.DeleteCanary, act.ScaleCanaryDown)
# What may join that stage, each in its own lane (in order within a lane): the stable
# HPA's floor given back (another object), the registry's records (MLflow only, not the
# cluster: the stable serves the candidate alone once the route write has returned).
LANES: tuple[tuple[type, ...], ...] = (
    CANARY_CLEANUP,
    (act.RestoreStableHPAMin,),
    (act.MoveAlias, act.TagVersion),
)
# The canary (re)made at weight 0 (``EnsureCanary``, never beside a route write: it opens
# a stage) and its HPA applied beside it: the HPA holds no pod and writes only through
# its target's ``scale`` subresource, so made before its Deployment it waits for it, and
# ``scale_canary`` checks the canary's names are the rollout's own before its apply.
CANARY_MADE: tuple[tuple[type, ...], ...] = ((act.EnsureCanary,), (act.ScaleCanary,))
# The stable HPA's floor held as a promotion is entered (no route write: none is in that
# decision's stage) and the registry's record of the analysis that chose it (MLflow only)
# beside it: both before the status, as in turn; a failing floor still raises first.
FLOOR_HELD: tuple[tuple[type, ...], ...] = ((act.HoldStableHPAMin,), (act.TagVersion,))


def _joins(opener: Any) -> tuple[tuple[type, ...], ...]:
    """The lanes of a stage opened by ``opener``, its own first (one lane: none may join)."""
    for lanes in (LANES, CANARY_MADE, FLOOR_HELD):
        if isinstance(opener, lanes[0]):
            return lanes
    return ((type(opener),),)


def _lane(lanes: tuple[tuple[type, ...], ...], action: Any) -> int | None:
    """The lane ``action`` takes in a stage of ``lanes`` (``None``: none; never the
    opener's own, so a second opener opens a stage of its own)."""
    return next((i for i, kinds in enumerate(lanes) if i and isinstance(action, kinds)), None)


Stage = list[list[Any]]  # lanes run side by side, the actions of one lane in turn


def stages(effects: Sequence[Any]) -> list[Stage]:
    """The effects in order, grouped into stages of lanes: the lanes of a stage run side
    by side, the actions of a lane in turn, stage after stage. A canary clean-up opens a
    stage that the actions right after it join when they are a stable-HPA floor given
    back or a registry record (alias, tags), each kind in its lane; a canary made
    (``EnsureCanary``) opens one that its HPA (``ScaleCanary``) right after it joins; a
    stable floor held (``HoldStableHPAMin``) one that the version's tags right after it
    join; every other action (the route writes above all) is a stage of its own, one lane of
    one action."""
    out: list[Stage] = []
    lanes: tuple[tuple[type, ...], ...] = ()  # those of the last stage
    for action in effects:
        lane = _lane(lanes, action)
        if out and lane is not None:
            found = next((ln for ln in out[-1][1:] if _lane(lanes, ln[0]) == lane), None)
            if found is None:
                out[-1].append([action])
            else:
                found.append(action)
            continue
        out.append([[action]])
        lanes = _joins(action)
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
