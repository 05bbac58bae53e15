"""Which webhooks the adapters call on this tick (pure, like ``progress.analysis_due``)."""

from __future__ import annotations

from datetime import datetime

from controller.rollout.progress import analysis_due
from controller.rollout.webhooks import BEFORE_TRAFFIC, not_before_traffic
from controller.spec import RolloutSpec, Webhook
from controller.status import TERMINAL, HookStatus, Phase, RolloutStatus


def _retry_due(entry: HookStatus, spec: RolloutSpec, now: datetime) -> bool:
    return entry.time is None or (now - entry.time).total_seconds() >= spec.canary.interval


def _due(hook: Webhook, spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    entry = status.hook(hook.name)
    if hook.type == "rollout":
        return analysis_due(spec, status, now)
    if hook.type in BEFORE_TRAFFIC:
        if entry is None or entry.state == "Passed" or not_before_traffic(status.phase):
            return False  # its stage asks for it first
        return entry.state == "Asked" or _retry_due(entry, spec, now)
    if hook.type == "confirm-promotion":
        if entry is not None and entry.state == "Passed":
            return False
        if entry is not None and entry.state == "Asked":
            return status.phase not in (*TERMINAL, Phase.ROLLING_BACK, Phase.PAUSED)
        last_step = status.step + 1 >= len(spec.canary.weights())
        return last_step and analysis_due(spec, status, now)
    return False  # post-rollout and rollback: CallWebhook actions


def hooks_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> list[Webhook]:
    """The gating hooks (confirm-rollout, pre-rollout, rollout, confirm-promotion) to call
    now: a before-traffic hook once its stage asked for it, then once per interval until it
    answers 2xx; a ``rollout`` hook with every analysis; a ``confirm-promotion`` hook with
    every analysis at the last step (or once asked) until it answers 2xx."""
    return [h for h in spec.webhooks if _due(h, spec, status, now)]
