"""One reconcile of one ModelRollout: observe → decide → execute, and count it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

import controller.metrics as own_metrics
from controller import ACTION_ANNOTATION
from controller.executor import execute
from controller.kube import ROLLOUTS
from controller.mlflow_adapter import RegistryError
from controller.notifications import transition
from controller.observe import observe, warm_contracts
from controller.rollout import Decision, decide
from controller.rollout.between import between_analyses
from controller.rollout.idle import at_rest
from controller.runtime import Runtime
from controller.spec import RolloutSpec, check_prometheus_allowed, check_webhooks_allowed
from controller.status import TERMINAL, Phase, RolloutStatus
from controller.target import Target

FINISHED = frozenset(p.value for p in TERMINAL)  # raw status values
SKIPPABLE = FINISHED | {Phase.PROGRESSING.value}  # the phases ``idle`` looks at


class InvalidSpec(Exception):
    """The spec passed the CRD schema but not the controller's validation."""


def parse_spec(
    spec: dict[str, Any],
    prometheus_allowlist: Sequence[str] = (),
    webhook_allowlist: Sequence[str] = (),
) -> RolloutSpec:
    try:
        parsed = RolloutSpec.model_validate(dict(spec))
        check_prometheus_allowed(parsed, prometheus_allowlist)
        check_webhooks_allowed(parsed, webhook_allowlist)
        return parsed
    except (ValidationError, ValueError) as exc:
        raise InvalidSpec(str(exc)) from exc


def _count(old: RolloutStatus, decision: Decision, uid: str, deleting: bool) -> None:
    new = decision.status
    if new.analysis_count > old.analysis_count and new.last_analysis is not None:
        record = new.last_analysis
        own_metrics.ANALYSES.labels(record.verdict.value, record.reason).inc()
    if new.phase is not old.phase:
        own_metrics.TRANSITIONS.labels(new.phase.value).inc()
    own_metrics.PHASES.set(uid, None if deleting else new.phase)


def _notify(
    runtime: Runtime,
    namespace: str,
    name: str,
    spec: RolloutSpec,
    old: RolloutStatus,
    decision: Decision,
    now: datetime,
) -> None:
    """Queue a message about the phase change, if any (delivered by a background thread)."""
    if spec.notifications is None or runtime.notifier is None:
        return
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    change = transition(namespace, name, old, decision, stamp)
    if change is not None:
        runtime.notifier.notify(spec.notifications.secret_ref.name, change)


def _candidate(runtime: Runtime, spec: RolloutSpec) -> str | None:
    """The version ``spec.model.uri`` names: as written when pinned, else asked of the
    registry (``None`` when it cannot answer, as in ``observe``)."""
    pinned = spec.model.ref.version
    if pinned is not None:
        return pinned
    try:
        return runtime.registry.resolve(spec.model.uri)[1]
    except RegistryError:
        return None


def _unmoved(runtime: Runtime, spec: RolloutSpec, old: RolloutStatus) -> bool:
    """Whether ``spec.model.uri`` still names the candidate under way (an unanswered
    registry never restarts a rollout, as in ``decide``)."""
    candidate = _candidate(runtime, spec)
    return candidate is None or candidate == old.canary_version


def idle(runtime: Runtime, body: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether this tick may skip the reconcile of ``body`` (kopf's copy, as last watched,
    or the copy our last write returned when newer): a finished rollout nothing can make
    act (``rollout.idle.at_rest``), or a Progressing one whose next analysis is not due yet
    (``rollout.between.between_analyses``: never more than one interval of skipped ticks
    in a row). Reads nothing from the API; asks the registry only for an alias URI, and
    for a rollout in flight only once everything else says skip. Any doubt (no status, an
    invalid spec) is ``False``: the reconcile then reads the object and decides."""
    status = body.get("status")
    if not status or status.get("phase") not in SKIPPABLE:
        return False  # the common case, before any parsing
    # our last write's copy when newer; else that copy is dropped (kopf has seen it), so a
    # finished rollout's ticks do not keep one whole copy of it per rollout for good
    body = runtime.rollouts.pick(body)
    status = body.get("status") or {}
    if status.get("phase") not in SKIPPABLE:
        return False
    in_flight = status.get("phase") not in FINISHED
    meta = body.get("metadata") or {}
    try:
        settings = runtime.settings
        spec = parse_spec(
            body.get("spec") or {}, settings.prometheus_allowlist, settings.webhook_allowlist
        )
        old = RolloutStatus.from_k8s(status)
    except (InvalidSpec, ValidationError, ValueError):
        return False
    now = now or datetime.now(UTC)
    generation = int(meta.get("generation", 1))
    deleting = meta.get("deletionTimestamp") is not None
    action = (meta.get("annotations") or {}).get(ACTION_ANNOTATION)
    if in_flight:
        quiet = between_analyses(
            spec, old, now, generation=generation, deleting=deleting, action=action
        ) and _unmoved(runtime, spec, old)
    else:
        quiet = at_rest(
            spec,
            old,
            now,
            generation=generation,
            deleting=deleting,
            action=action,
            candidate=_candidate(runtime, spec),
        )
    if quiet:
        own_metrics.IDLE_TICKS.inc()
        own_metrics.PHASES.set(str(meta.get("uid", "")), old.phase)  # e.g. after a restart
    return quiet


def reconcile(
    runtime: Runtime,
    namespace: str,
    name: str,
    now: datetime | None = None,
    body: dict[str, Any] | None = None,
) -> Decision | None:
    """Decide on the object's current state and apply the decision; returns it.

    Runs under a per-object lock, so two handlers (timer, deletion) never interleave.
    Without ``body`` the object is read fresh (GET). With ``body`` (the timer's: kopf's
    copy as last watched) no GET is made: kopf's copy lags the API only by the watch's
    delay, and the one lag that matters, our own last write (status, cleared action
    annotation) not yet seen, is covered by taking the copy that write returned when it
    is newer (``runtime.rollouts.pick``). So a reconcile never decides from a status older
    than the one it wrote; a change made by someone else meanwhile is seen at the next
    tick, as it would be had it landed just after a GET."""
    started, outcome = time.perf_counter(), "error"
    try:
        with runtime.lock(f"{namespace}/{name}"):
            if body is None:
                body = runtime.kube.get(ROLLOUTS, namespace, name)
            else:
                body = runtime.rollouts.pick(body)
            if body is None:
                runtime.rollouts.drop(namespace, name)
                outcome = "gone"
                return None
            now = now or datetime.now(UTC)
            uid = str(body["metadata"].get("uid", ""))
            settings = runtime.settings
            spec = parse_spec(
                body.get("spec") or {}, settings.prometheus_allowlist, settings.webhook_allowlist
            )
            old = RolloutStatus.from_k8s(body.get("status"))
            readings = observe(runtime, body, spec, old, now)
            decision = decide(spec, old, readings, now)
            warm_contracts(runtime, readings, old, decision.status)
            execute(Target(runtime, body, spec), old, decision, now, record=not readings.deleting)
            _count(old, decision, uid, readings.deleting)
            _notify(runtime, namespace, name, spec, old, decision, now)
            outcome = "ok"
            return decision
    finally:
        own_metrics.RECONCILE.labels(outcome).observe(time.perf_counter() - started)
