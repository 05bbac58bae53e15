"""Apply a Decision: its effects in order, then the status, then the Events.

Rollback and promotion are thereby made safe before they are recorded: a failing effect
raises before the status is written, and the next reconcile decides again from the old
status. A failure to post an Event is logged, never retried; with the runtime's
``EventQueue`` the Events are posted in the background, off the reconcile's path.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from loguru import logger

import controller.metrics as own_metrics
from controller.appliers import APPLIERS
from controller.events import event
from controller.kube import EVENTS, ROLLOUTS, KubeError
from controller.parallel import side_by_side, stages
from controller.rollout import Decision
from controller.status import RolloutStatus, merge_patch
from controller.target import Target


def status_changed(old: RolloutStatus, new: RolloutStatus) -> bool:
    return old.to_k8s() != new.to_k8s()


def diff_worth_guarding(stored: dict[str, Any] | None) -> bool:
    """Whether to send only the fields that differ from ``stored``, guarded by the version
    read, rather than the whole status at once: not without ``stored``, nor when it is
    empty (never written: the object's first reconcile, whose version read is nearly
    always stale by then — kopf has just added its finalizer — so the guarded patch, the
    whole status anyway, would meet a 409 and be sent again: two requests, not one)."""
    return bool(stored)


def write_status(
    target: Target, status: RolloutStatus, stored: dict[str, Any] | None = None
) -> None:
    """Patch ``status``. With ``stored`` (the raw status the decision read, as the API
    server keeps it) only the fields that differ from it are sent (``status.merge_patch``:
    the history, conditions and hooks lists only when they changed), guarded by the
    ``resourceVersion`` the decision read (or our own write of this reconcile returned,
    e.g. the action annotation cleared): applied to that very object the patch gives
    ``status``. The diff is taken against the stored dict, never against the parsed
    model: a field the server does not hold yet (e.g. ``step`` on a new object) parses
    to its default, and a diff against that default would never send it. When the
    object has moved on meanwhile (409), the whole status is written instead, as
    without ``stored`` or with an empty one (``diff_worth_guarding``)."""
    kube, fields = target.runtime.kube, status.to_k8s()
    version = target.runtime.rollouts.version(target.body)
    written = None
    if stored is not None and diff_worth_guarding(stored) and version:
        body = {
            "metadata": {"resourceVersion": version},
            "status": merge_patch(stored, fields),
        }
        try:
            written = kube.patch(ROLLOUTS, target.ns, target.name, body, sub="status")
        except KubeError as exc:
            if exc.status != 409:
                raise
    if written is None:
        written = kube.patch(ROLLOUTS, target.ns, target.name, {"status": fields}, sub="status")
    target.runtime.rollouts.note(written)


def post_events(target: Target, decision: Decision, now: datetime) -> None:
    """Queued on ``runtime.events`` when there is one (posted in the background), else
    posted here in turn."""
    queued = target.runtime.events
    for item in decision.events:
        try:
            body = event(target.body, item.type, item.reason, item.message, now)
            if queued is not None:
                queued.post(target.ns, body)
                continue
            target.runtime.kube.create(EVENTS, target.ns, body)
        except KubeError as exc:
            logger.warning(
                "event {} on {}/{} not posted: {}", item.reason, target.ns, target.name, exc
            )


def execute(
    target: Target, old: RolloutStatus, decision: Decision, now: datetime, *, record: bool = True
) -> None:
    """Effects, then (if ``record`` and changed) the status, then the Events. The effects
    run in order, stage after stage; the actions of one stage side by side
    (``parallel.stages``: the stable HPA's floor and the registry's records beside the
    canary's clean-up, once the route write has returned)."""
    for stage in stages(decision.effects):
        side_by_side(target.runtime.writes, [partial(_lane, target, lane) for lane in stage])
    if record and status_changed(old, decision.status):
        write_status(target, decision.status, target.body.get("status") or {})
    post_events(target, decision, now)


def _lane(target: Target, lane: list[Any]) -> None:
    for action in lane:
        logger.info("{}/{}: {}", target.ns, target.name, action)
        APPLIERS[type(action)](target, action)
        own_metrics.ACTIONS.labels(type(action).__name__).inc()
