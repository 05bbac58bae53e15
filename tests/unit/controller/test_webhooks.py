"""Webhooks in the pure decision: which hooks are due, confirm holds, pre-rollout failed
checks, rollout hooks as analysis gates, fire-once hooks, payload, spec validation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from controller.rollout import decide
from controller.rollout.actions import CallWebhook, EmitEvent, SetWeight
from controller.rollout.due import hooks_due
from controller.rollout.readings import HookResult, Readings
from controller.rollout.webhooks import payload
from controller.spec import RolloutSpec, check_webhooks_allowed
from controller.status import HookStatus, Phase, RolloutStatus, Verdict
from tests.unit.controller.factories import NOW, ago, metrics, readings, spec, status

pytestmark = pytest.mark.unit

OK = HookResult(ok=True, attempts=1, code=200)
NO = HookResult(ok=False, attempts=3, code=503, message="HTTP 503")
WAIT = HookResult(ok=False, attempts=1, code=403, message="HTTP 403")


def hooked(*types: str, **canary: Any) -> RolloutSpec:
    hooks = [{"name": t, "type": t, "url": f"http://hooks.test/{t}"} for t in types]
    return spec(webhooks=hooks, canary={"interval": "30s", **canary})


def entry(name: str, state: Any, seconds: float = 0, **kw: Any) -> HookStatus:
    return HookStatus(name=name, type=name, state=state, time=ago(seconds), **kw)


def initializing(**kw: Any) -> RolloutStatus:
    return status(Phase.INITIALIZING, canary_weight=0, **kw)


def due(rollout: RolloutSpec, st: RolloutStatus) -> list[str]:
    return [h.name for h in hooks_due(rollout, st, NOW)]


# ---------------------------------------------------------------- before traffic
def test_confirm_rollout_asks_then_holds_until_2xx_then_traffic_moves() -> None:
    rollout = hooked("confirm-rollout")
    first = decide(rollout, initializing(), readings(), NOW)
    assert first.status.phase is Phase.INITIALIZING
    assert first.status.hook("confirm-rollout").state == "Asked"  # type: ignore[union-attr]
    assert "waiting for confirm-rollout webhook" in first.status.message
    assert not any(isinstance(a, SetWeight) for a in first.actions)
    assert due(rollout, first.status) == ["confirm-rollout"]  # called on the next tick

    waiting = decide(rollout, first.status, readings(hooks={"confirm-rollout": WAIT}), NOW)
    assert waiting.status.phase is Phase.INITIALIZING
    assert waiting.status.hook("confirm-rollout").state == "Waiting"  # type: ignore[union-attr]
    assert "HTTP 403" in waiting.status.message
    assert waiting.status.failed_checks == 0  # a confirm hook never fails the rollout
    assert due(rollout, waiting.status) == []  # asked again after an interval
    assert [h.name for h in hooks_due(rollout, waiting.status, NOW + timedelta(seconds=30))] == [
        "confirm-rollout"
    ]

    later = NOW + timedelta(seconds=30)
    released = decide(rollout, waiting.status, readings(hooks={"confirm-rollout": OK}), later)
    assert released.status.phase is Phase.PROGRESSING
    assert SetWeight(5) in released.actions
    hook = released.status.hook("confirm-rollout")
    assert hook is not None
    assert (hook.state, hook.calls, hook.attempts) == ("Passed", 2, 2)


def test_pre_rollout_failure_is_a_failed_check_and_rolls_back_at_the_threshold() -> None:
    rollout = hooked("pre-rollout", failureThreshold=2)
    asked = initializing(hooks=[entry("pre-rollout", "Asked")])
    first = decide(rollout, asked, readings(hooks={"pre-rollout": NO}), NOW)
    assert first.status.phase is Phase.INITIALIZING
    assert first.status.failed_checks == 1
    assert any(isinstance(a, EmitEvent) and a.reason == "WebhookFailed" for a in first.actions)
    assert first.status.hook("pre-rollout").attempts == 3  # type: ignore[union-attr]
    # not called again before an interval has passed; no answer = no new failed check
    assert due(rollout, first.status) == []
    idle = decide(rollout, first.status, readings(), NOW + timedelta(seconds=5))
    assert idle.status.failed_checks == 1
    assert idle.status.phase is Phase.INITIALIZING

    later = NOW + timedelta(seconds=30)
    assert [h.name for h in hooks_due(rollout, first.status, later)] == ["pre-rollout"]
    second = decide(rollout, first.status, readings(hooks={"pre-rollout": NO}), later)
    assert second.status.phase is Phase.ROLLING_BACK
    assert second.status.condition("Promoted").reason == "WebhookFailed"  # type: ignore[union-attr]


def test_pre_rollout_runs_after_confirm_and_passes_once() -> None:
    rollout = hooked("confirm-rollout", "pre-rollout")
    st = initializing(hooks=[entry("confirm-rollout", "Passed")])
    asked = decide(rollout, st, readings(), NOW)
    assert asked.status.hook("pre-rollout").state == "Asked"  # type: ignore[union-attr]
    assert due(rollout, asked.status) == ["pre-rollout"]
    passed = decide(rollout, asked.status, readings(hooks={"pre-rollout": OK}), NOW)
    assert passed.status.phase is Phase.PROGRESSING
    assert due(rollout, passed.status) == []


def test_before_traffic_hooks_are_never_called_outside_their_checkpoint() -> None:
    rollout = hooked("confirm-rollout", "pre-rollout")
    asked = [entry("confirm-rollout", "Asked"), entry("pre-rollout", "Asked")]
    for phase in (Phase.PROGRESSING, Phase.PAUSED, Phase.FAILED, Phase.ROLLING_BACK):
        assert due(rollout, status(phase, hooks=asked)) == [], phase


# ---------------------------------------------------------------- analyses
def test_rollout_hooks_are_called_with_every_analysis_and_a_failure_fails_it() -> None:
    rollout = hooked("rollout")
    assert due(rollout, status()) == ["rollout"]
    assert due(rollout, status(last_analysis_time=ago(1))) == []
    failed = decide(rollout, status(), readings(hooks={"rollout": NO}), NOW)
    record = failed.status.last_analysis
    assert record is not None
    assert record.verdict is Verdict.FAILED
    assert record.reason == "WebhookFailed"
    assert "HTTP 503" in record.message
    assert failed.status.failed_checks == 1
    gate = next(g for g in record.gates if g.name == "webhook/rollout")
    assert (gate.value, gate.verdict) == (0.0, "Failed")
    passed = decide(rollout, status(), readings(hooks={"rollout": OK}), NOW)
    assert passed.status.last_analysis.verdict is Verdict.PASSED  # type: ignore[union-attr]
    assert passed.status.canary_weight == 10


def test_confirm_promotion_holds_in_progressing_until_2xx() -> None:
    rollout = hooked("confirm-promotion", steps=[5, 50])
    last = status(step=1, canary_weight=50)
    assert due(rollout, last) == ["confirm-promotion"]
    assert due(rollout, status()) == []  # not at the last step
    held = decide(rollout, last, readings(hooks={"confirm-promotion": WAIT}), NOW)
    assert held.status.phase is Phase.PROGRESSING
    assert "waiting for confirm-promotion webhook" in held.status.message
    assert due(rollout, held.status) == []  # next analysis: one interval later
    later = NOW + timedelta(seconds=30)
    ok = decide(rollout, held.status, readings(hooks={"confirm-promotion": OK}), later)
    assert ok.status.phase is Phase.PROMOTING


# ---------------------------------------------------------------- fire once
def test_rollback_and_post_rollout_hooks_fire_once() -> None:
    rollout = hooked("rollback", "post-rollout", failureThreshold=1)
    rolled = decide(rollout, status(), readings(metrics=metrics(errorRatio=0.5)), NOW)
    assert rolled.status.phase is Phase.ROLLING_BACK
    calls = [a for a in rolled.actions if isinstance(a, CallWebhook)]
    assert [(c.name, c.type) for c in calls] == [("rollback", "rollback")]
    assert calls[0].status.phase is Phase.ROLLING_BACK
    sent = rolled.status.hook("rollback")
    assert sent is not None
    assert (sent.state, sent.time) == ("Sent", NOW)  # when it was handed over
    failed = decide(rollout, rolled.status, readings(), NOW)
    assert failed.status.phase is Phase.FAILED
    assert [a.name for a in failed.actions if isinstance(a, CallWebhook)] == ["post-rollout"]
    idle = decide(rollout, failed.status, readings(), NOW)
    assert not any(isinstance(a, CallWebhook) for a in idle.actions)
    # a new attempt starts with no hook sent
    restarted = decide(rollout, failed.status, readings(candidate_version="9"), NOW)
    assert restarted.status.hooks == []


def test_deletion_fires_no_hook() -> None:
    rollout = hooked("post-rollout")
    gone = decide(rollout, status(Phase.SUCCEEDED), readings(deleting=True), NOW)
    assert not any(isinstance(a, CallWebhook) for a in gone.actions)


# ---------------------------------------------------------------- payload, spec
def test_payload_carries_the_rollout_state_and_metadata() -> None:
    rollout = spec(
        webhooks=[
            {"name": "gate", "type": "rollout", "url": "http://h/x", "metadata": {"team": "risk"}}
        ]
    )
    analysed = decide(rollout, status(), readings(hooks={"gate": OK}), NOW).status
    body = payload("credit-default", "credit-risk", rollout.webhooks[0], analysed, NOW)
    assert body["name"] == "credit-default"
    assert body["namespace"] == "credit-risk"
    assert body["type"] == "rollout"
    assert body["phase"] == "Progressing"
    assert body["model"] == {"name": "credit-default", "canaryVersion": "8", "stableVersion": "7"}
    assert body["weight"] == 10
    assert body["metadata"] == {"team": "risk"}
    assert body["lastAnalysis"]["verdict"] == "Passed"


def test_webhook_defaults_and_validation() -> None:
    hook = spec(webhooks=[{"name": "a", "type": "rollout", "url": "https://h/a"}]).webhooks[0]
    assert (hook.timeout, hook.retries, hook.secret_ref, hook.metadata) == (10.0, 2, None, {})
    for bad in (
        [{"name": "a", "type": "later", "url": "https://h"}],
        [{"name": "a", "type": "rollout", "url": "ftp://h"}],
        [{"name": "a", "type": "rollout", "url": "https://h", "retries": -1}],
        [{"name": "a", "type": "rollout", "url": "https://h"}] * 2,
        [{"name": "a", "type": "rollout", "url": "https://h", "secretRef": {"name": "s"}}],
    ):
        with pytest.raises(ValidationError):
            spec(webhooks=bad)


def test_webhook_allowlist() -> None:
    rollout = spec(webhooks=[{"name": "a", "type": "rollout", "url": "https://hooks.bank/x"}])
    check_webhooks_allowed(rollout, [])
    check_webhooks_allowed(rollout, ["https://hooks.bank"])
    for prefixes in (["https://hooks.ban"], ["http://hooks.bank"], ["https://other"]):
        with pytest.raises(ValueError, match="not allowed"):
            check_webhooks_allowed(rollout, prefixes)


def test_answers_of_hooks_not_in_the_spec_are_ignored() -> None:
    unknown = Readings(**{**readings().__dict__, "hooks": {"gone": OK}})
    assert decide(spec(), status(), unknown, NOW).status.hooks == []


# ---------------------------------------------------------------- with the sign-off stages
SIGN = {"approval": {"beforeTraffic": True, "beforePromotion": True}}


def test_hooks_run_before_the_traffic_sign_off_and_are_not_asked_again_after_it() -> None:
    rollout = hooked("confirm-rollout", "pre-rollout", **SIGN)
    st = initializing(hooks=[entry("confirm-rollout", "Passed"), entry("pre-rollout", "Asked")])
    signed = decide(rollout, st, readings(hooks={"pre-rollout": OK}), NOW)
    assert signed.status.phase is Phase.AWAITING_APPROVAL  # hooks passed: now the sign-off
    assert due(rollout, signed.status) == []
    approve = readings(action="approve", action_by="alice")
    going = decide(rollout, signed.status, approve, NOW)
    assert going.status.phase is Phase.PROGRESSING
    assert SetWeight(5) in going.actions


def test_a_hook_stage_reached_after_a_sign_off_holds_back_in_its_own_phase() -> None:
    """A confirm-rollout hook added while the sign-off waited: approving runs the
    checkpoint again, the hook stage sends the rollout back to Initializing (whose handler
    runs the checkpoint every tick) instead of holding in a phase that would never."""
    rollout = hooked("confirm-rollout", **SIGN)
    waiting = status(Phase.AWAITING_APPROVAL, canary_weight=0, awaiting="beforeTraffic")
    approved = decide(rollout, waiting, readings(action="approve", action_by="bob"), NOW)
    assert approved.status.phase is Phase.INITIALIZING
    assert approved.status.awaiting is None
    assert [a.by for a in approved.status.approvals] == ["bob"]
    assert any(isinstance(a, EmitEvent) and a.reason == "AwaitingWebhook" for a in approved.actions)
    assert due(rollout, approved.status) == ["confirm-rollout"]
    later = NOW + timedelta(seconds=5)
    released = decide(rollout, approved.status, readings(hooks={"confirm-rollout": OK}), later)
    assert released.status.phase is Phase.PROGRESSING  # the sign-off is kept: no second ask


def test_confirm_promotion_comes_before_the_promotion_sign_off() -> None:
    rollout = hooked("confirm-promotion", steps=[5, 50], **SIGN)
    last = status(step=1, canary_weight=50)
    held = decide(rollout, last, readings(hooks={"confirm-promotion": WAIT}), NOW)
    assert held.status.phase is Phase.PROGRESSING
    later = NOW + timedelta(seconds=30)
    signing = decide(rollout, held.status, readings(hooks={"confirm-promotion": OK}), later)
    assert signing.status.phase is Phase.AWAITING_APPROVAL
    assert signing.status.awaiting == "beforePromotion"
    assert due(rollout, signing.status) == []  # passed: not asked while the sign-off waits


# ---------------------------------------------------------------- hooks_due, state by state
@pytest.mark.parametrize("kind", ["confirm-rollout", "pre-rollout"])
def test_a_before_traffic_hook_is_due_only_once_asked_and_never_after_2xx(kind: str) -> None:
    rollout = hooked(kind)
    assert due(rollout, initializing()) == []  # its stage has not asked for it yet
    assert due(rollout, initializing(hooks=[entry(kind, "Asked")])) == [kind]
    assert due(rollout, initializing(hooks=[entry(kind, "Failed", 60)])) == [kind]
    assert due(rollout, initializing(hooks=[entry(kind, "Passed", 600)])) == []


def test_confirm_promotion_is_due_at_the_last_step_until_it_answers_2xx() -> None:
    rollout = hooked("confirm-promotion", steps=[10, 50])
    last = status(Phase.PROGRESSING, canary_weight=50, step=1, last_analysis_time=ago(60))
    assert due(rollout, last) == ["confirm-promotion"]
    assert due(rollout, status(Phase.PROGRESSING, last_analysis_time=ago(60))) == []  # step 1
    passed = last.model_copy(update={"hooks": [entry("confirm-promotion", "Passed", 600)]})
    assert due(rollout, passed) == []
    waiting = last.model_copy(update={"hooks": [entry("confirm-promotion", "Waiting", 600)]})
    assert due(rollout, waiting) == ["confirm-promotion"]


@pytest.mark.parametrize(
    ("phase", "called"),
    [
        (Phase.PROGRESSING, True),
        (Phase.AWAITING_APPROVAL, True),
        (Phase.PAUSED, False),
        (Phase.ROLLING_BACK, False),
        (Phase.SUCCEEDED, False),
        (Phase.FAILED, False),
    ],
)
def test_an_asked_confirm_promotion_is_called_at_once_unless_the_rollout_stopped(
    phase: Phase, called: bool
) -> None:
    """Asked: called on the next tick whatever the analysis clock says (not yet due here:
    the last analysis was just now), except in a stopped or finished rollout."""
    rollout = hooked("confirm-promotion", steps=[10, 50])
    asked = status(
        phase,
        canary_weight=50,
        step=1,
        last_analysis_time=NOW,
        hooks=[entry("confirm-promotion", "Asked")],
    )
    assert due(rollout, asked) == (["confirm-promotion"] if called else [])
