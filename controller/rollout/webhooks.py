"""Flagger-style webhooks in the decision (pure): gates, stages and fire-once hooks.

The adapters call the hooks ``due.hooks_due`` names and hand the answers in as
``Readings.hooks``; ``record`` folds them into ``status.hooks`` at the start of a decision,
so every stage reads one place. Per type (docs/webhooks.md):

- ``confirm-rollout`` / ``confirm-promotion``: a checkpoint stage that holds until the hook
  answers 2xx (asked again once per ``canary.interval``);
- ``pre-rollout``: a before-traffic stage; a failed call is a failed check (rollback at
  ``canary.failureThreshold``), retried once per interval;
- ``rollout``: called with every analysis; a failure is a failed gate of that analysis;
- ``post-rollout`` / ``rollback``: fire-once notifications (``CallWebhook`` actions, best
  effort), recorded as ``Sent`` so a repeated tick does not send them again.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from controller.rollout.actions import Action, CallWebhook, EmitEvent
from controller.rollout.moves import rollback
from controller.rollout.readings import Readings
from controller.rollout.records import compact
from controller.rollout.transitions import Decision, Tick, go, hold
from controller.spec import RolloutSpec, Webhook
from controller.status import (
    TERMINAL,
    AnalysisRecord,
    GateResult,
    HookStatus,
    Phase,
    RolloutStatus,
    Verdict,
)

CONFIRM = frozenset({"confirm-rollout", "confirm-promotion"})
BEFORE_TRAFFIC = ("confirm-rollout", "pre-rollout")
GATE_PREFIX = "webhook/"
HOME = {
    "confirm-rollout": Phase.INITIALIZING,
    "pre-rollout": Phase.INITIALIZING,
    "confirm-promotion": Phase.PROGRESSING,
}
PAYLOAD_VERSION = "v1"


def _with_entry(status: RolloutStatus, entry: HookStatus) -> RolloutStatus:
    others = [h for h in status.hooks if h.name != entry.name]
    return status.model_copy(update={"hooks": [*others, entry]})


def record(
    spec: RolloutSpec, status: RolloutStatus, readings: Readings, now: datetime
) -> RolloutStatus:
    """``status`` with this tick's webhook answers recorded (hooks no longer in the spec are
    ignored)."""
    by_name = {h.name: h for h in spec.webhooks}
    for name, result in readings.hooks.items():
        hook = by_name.get(name)
        if hook is None:
            continue
        old = status.hook(name) or HookStatus(name=name, type=hook.type, state="Asked")
        state = "Passed" if result.ok else ("Waiting" if hook.type in CONFIRM else "Failed")
        entry = old.model_copy(
            update={
                "type": hook.type,
                "state": state,
                "calls": old.calls + 1,
                "attempts": old.attempts + result.attempts,
                "failures": old.failures + (0 if result.ok else 1),
                "code": result.code,
                "message": result.message[:256],
                "time": now,
            }
        )
        status = _with_entry(status, entry)
    return status


def _describe(hook: Webhook, entry: HookStatus | None) -> str:
    if entry is None or entry.state == "Asked":
        return hook.name
    answer = f"HTTP {entry.code}" if entry.code is not None else entry.message or "no answer"
    return f"{hook.name} ({answer})"


def _gate(tick: Tick, kind: str) -> Decision | None:
    """The stage of one webhook type: ``None`` once every hook of it answered 2xx."""
    status = tick.status
    open_hooks = [h for h in tick.spec.hooks(kind) if _state(status, h) != "Passed"]
    if not open_hooks:
        return None
    for hook in open_hooks:
        if status.hook(hook.name) is None:  # ask: the adapters call it on the next tick
            entry = HookStatus(name=hook.name, type=hook.type, state="Asked", time=tick.now)
            status = _with_entry(status, entry)
    tick = replace(tick, status=status)
    failed = [
        h
        for h in open_hooks
        if h.name in tick.readings.hooks and not tick.readings.hooks[h.name].ok
    ]
    waiting = ", ".join(_describe(h, status.hook(h.name)) for h in open_hooks)
    if failed and kind not in CONFIRM:
        return _failed_check(
            tick, kind, ", ".join(_describe(h, status.hook(h.name)) for h in failed)
        )
    where = tick.status.canary_weight
    prefix = f"analysis passed at {where}%; " if kind == "confirm-promotion" else ""
    return _stay(tick, kind, f"{prefix}waiting for {kind} webhook {waiting}")


def _stay(tick: Tick, kind: str, message: str, *actions: Action) -> Decision:
    """Hold in the phase whose handler runs this checkpoint again (Initializing before
    traffic, Progressing before promotion); reached from another stage's phase (e.g. right
    after a sign-off), go back there first."""
    home = HOME[kind]
    if tick.status.phase is home:
        return hold(tick, message, *actions)
    return go(tick, home, "AwaitingWebhook", message, *actions, awaiting=None)


def _state(status: RolloutStatus, hook: Webhook) -> str | None:
    entry = status.hook(hook.name)
    return entry.state if entry is not None else None


def _failed_check(tick: Tick, kind: str, which: str) -> Decision:
    failed, threshold = tick.status.failed_checks + 1, tick.spec.canary.failure_threshold
    tick = replace(tick, status=tick.status.model_copy(update={"failed_checks": failed}))
    message = f"failed check {failed}/{threshold}: {kind} webhook {which} failed"
    if failed >= threshold:
        return rollback(tick, "WebhookFailed", message)
    return _stay(tick, kind, message, EmitEvent("WebhookFailed", message, "Warning"))


def confirm_rollout(tick: Tick) -> Decision | None:
    """Before traffic: hold until every ``confirm-rollout`` hook answered 2xx."""
    return _gate(tick, "confirm-rollout")


def pre_rollout(tick: Tick) -> Decision | None:
    """Before traffic: every ``pre-rollout`` hook must answer 2xx; a failure is a failed
    check, retried once per interval."""
    return _gate(tick, "pre-rollout")


def confirm_promotion(tick: Tick) -> Decision | None:
    """Before promotion: hold (in Progressing; asked again with each analysis) until every
    ``confirm-promotion`` hook answered 2xx."""
    return _gate(tick, "confirm-promotion")


def with_hook_gates(
    spec: RolloutSpec, record_: AnalysisRecord, readings: Readings
) -> AnalysisRecord:
    """The analysis with one gate per ``rollout`` hook (1 = answered 2xx, 0 = failed); a
    failed hook fails the analysis, a hook not called leaves it without data."""
    hooks = spec.hooks("rollout")
    if not hooks:
        return record_
    gates, failed, missing = [], [], []
    for hook in hooks:
        result = readings.hooks.get(hook.name)
        if result is None:
            gates.append(GateResult(name=GATE_PREFIX + hook.name, min=1.0, verdict="NoData"))
            missing.append(hook.name)
            continue
        verdict = "Passed" if result.ok else "Failed"
        value = 1.0 if result.ok else 0.0
        gates.append(
            GateResult(name=GATE_PREFIX + hook.name, value=value, min=1.0, verdict=verdict)
        )
        if not result.ok:
            answer = f"HTTP {result.code}" if result.code is not None else result.message
            failed.append(f"webhook {hook.name} failed ({answer})")
    update: dict[str, Any] = {"gates": [*record_.gates, *gates]}
    if failed:
        first = record_.verdict is not Verdict.FAILED
        update["verdict"] = Verdict.FAILED
        update["reason"] = "WebhookFailed" if first else record_.reason
        update["message"] = "; ".join(failed if first else [record_.message, *failed])
    elif missing and record_.verdict is Verdict.PASSED:
        update["verdict"] = Verdict.INCONCLUSIVE
        update["reason"] = "NoData"
        update["message"] = f"no answer from webhook {', '.join(missing)}"
    return record_.model_copy(update=update)


def fire_once(spec: RolloutSpec, decision: Decision, now: datetime) -> Decision:
    """Add ``rollback`` hooks when the decision enters RollingBack and ``post-rollout``
    hooks when it reaches Succeeded or Failed, each once per attempt (``Sent``)."""
    status = decision.status
    types = []
    if status.phase is Phase.ROLLING_BACK:
        types.append("rollback")
    if status.phase in TERMINAL:
        types.append("post-rollout")
    hooks = [h for h in spec.hooks(*types) if status.hook(h.name) is None]
    if not hooks:
        return decision
    for hook in hooks:
        entry = HookStatus(name=hook.name, type=hook.type, state="Sent", time=now)
        status = _with_entry(status, entry)
    calls = tuple(CallWebhook(h.name, h.type, status) for h in hooks)
    return decision.then(*calls, status=status)


def payload(
    name: str, namespace: str, hook: Webhook, status: RolloutStatus, now: datetime
) -> dict[str, Any]:
    """The JSON body every hook receives (docs/webhooks.md)."""
    last = status.last_analysis
    return {
        "apiVersion": PAYLOAD_VERSION,
        "name": name,
        "namespace": namespace,
        "phase": status.phase.value,
        "type": hook.type,
        "hook": hook.name,
        "model": {
            "name": status.model_name,
            "canaryVersion": status.canary_version,
            "stableVersion": status.stable_version,
        },
        "weight": status.canary_weight,
        "step": status.step,
        "failedChecks": status.failed_checks,
        "message": status.message,
        "lastAnalysis": None if last is None else _analysis(last),
        "metadata": dict(hook.metadata),
        "time": now.isoformat(timespec="seconds"),
    }


def _analysis(last: AnalysisRecord) -> Any:
    return json.loads(compact(last))


def not_before_traffic(phase: Phase) -> bool:
    """Phases in which no before-traffic stage can run any more (or not yet)."""
    return phase in (
        Phase.PENDING,
        Phase.PROGRESSING,
        Phase.PROMOTING,
        Phase.ROLLING_BACK,
        Phase.PAUSED,
        *TERMINAL,
    )
