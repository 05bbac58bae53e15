"""The webhook module's parts called directly: how answers are recorded, the exact texts
and events of the gates, a stage reached from another phase, rollout hooks as analysis
gates, and the payload's every field (the decision-level behaviour: test_webhooks)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from controller.rollout.actions import EmitEvent
from controller.rollout.readings import HookResult
from controller.rollout.transitions import Tick
from controller.rollout.webhooks import (
    confirm_promotion,
    confirm_rollout,
    payload,
    pre_rollout,
    record,
    with_hook_gates,
)
from controller.spec import RolloutSpec
from controller.status import AnalysisRecord, GateResult, HookStatus, Phase, RolloutStatus, Verdict
from tests.unit.controller.factories import NOW, ago, readings, spec, status

pytestmark = pytest.mark.unit

OK = HookResult(ok=True, attempts=1, code=200)
NO = HookResult(ok=False, attempts=3, code=503, message="unavailable")  # shown: the code
TIMEOUT = HookResult(ok=False, attempts=2, code=None, message="timed out")
SILENT = HookResult(ok=False, attempts=1, code=None, message="")


def hooks(*pairs: tuple[str, str], **canary: Any) -> RolloutSpec:
    """A spec with these (name, type) webhooks."""
    body = [{"name": n, "type": t, "url": f"http://hooks.test/{n}"} for n, t in pairs]
    return spec(webhooks=body, canary={"interval": "30s", **canary})


def tick(rollout: RolloutSpec, st: RolloutStatus, **answers: HookResult) -> Tick:
    return Tick(rollout, st, readings(hooks=answers), NOW)


def initializing(**kw: Any) -> RolloutStatus:
    return status(Phase.INITIALIZING, canary_weight=0, **kw)


# ---------------------------------------------------------------- record
def test_record_keeps_reading_after_an_answer_of_a_hook_no_longer_in_the_spec() -> None:
    rollout = hooks(("pre", "pre-rollout"))
    answers = readings(hooks={"gone": OK, "pre": OK})  # the unknown one comes first
    recorded = record(rollout, initializing(), answers, NOW)
    assert [h.name for h in recorded.hooks] == ["pre"]


def test_record_a_failed_call_of_a_non_confirm_hook_is_failed() -> None:
    rollout = hooks(("pre", "pre-rollout"), ("gate", "rollout"), ("ok", "confirm-rollout"))
    answers = readings(hooks={"pre": NO, "gate": NO, "ok": NO})
    recorded = record(rollout, initializing(), answers, NOW)
    states = {h.name: h.state for h in recorded.hooks}
    assert states == {"pre": "Failed", "gate": "Failed", "ok": "Waiting"}


def test_record_updates_every_field_of_an_earlier_entry() -> None:
    rollout = hooks(("pre", "pre-rollout"))
    old = HookStatus(
        name="pre",
        type="rollout",  # the hook's type changed in the spec since
        state="Passed",
        calls=2,
        attempts=4,
        failures=1,
        code=200,
        message="earlier",
        time=ago(60),
    )
    st = initializing(hooks=[old])
    failed = record(rollout, st, readings(hooks={"pre": NO}), NOW).hook("pre")
    assert failed == HookStatus(
        name="pre",
        type="pre-rollout",
        state="Failed",
        calls=3,
        attempts=7,
        failures=2,
        code=503,
        message="unavailable",
        time=NOW,
    )
    later = NOW + timedelta(seconds=30)
    failed_st = st.model_copy(update={"hooks": [failed]})
    passed = record(rollout, failed_st, readings(hooks={"pre": OK}), later).hook("pre")
    assert passed is not None
    assert (passed.state, passed.calls, passed.failures, passed.code, passed.message) == (
        "Passed",
        4,
        2,
        200,
        "",
    )
    assert passed.time == later
    no_answer = record(rollout, failed_st, readings(hooks={"pre": TIMEOUT}), NOW).hook("pre")
    assert no_answer is not None
    assert (no_answer.code, no_answer.failures) == (None, 3)


def test_record_cuts_the_message_at_256_characters() -> None:
    rollout = hooks(("pre", "pre-rollout"))
    long = HookResult(ok=False, code=500, message="x" * 300)
    entry = record(rollout, initializing(), readings(hooks={"pre": long}), NOW).hook("pre")
    assert entry is not None
    assert entry.message == "x" * 256


# ---------------------------------------------------------------- gates: texts and events
def test_a_stage_asks_its_hooks_at_the_tick_s_time_and_names_them_all() -> None:
    rollout = hooks(("c1", "confirm-rollout"), ("c2", "confirm-rollout"))
    decision = confirm_rollout(tick(rollout, initializing()))
    assert decision is not None
    assert decision.status.message == "waiting for confirm-rollout webhook c1, c2"
    assert [(h.name, h.state, h.time) for h in decision.status.hooks] == [
        ("c1", "Asked", NOW),
        ("c2", "Asked", NOW),
    ]


@pytest.mark.parametrize(
    ("answer", "shown"),
    [(NO, "HTTP 503"), (TIMEOUT, "timed out"), (SILENT, "no answer")],
)
def test_a_confirm_hook_s_answer_is_shown_by_code_else_message_else_no_answer(
    answer: HookResult, shown: str
) -> None:
    rollout = hooks(("c1", "confirm-rollout"))
    asked = HookStatus(name="c1", type="confirm-rollout", state="Asked", time=NOW)
    st = record(rollout, initializing(hooks=[asked]), readings(hooks={"c1": answer}), NOW)
    decision = confirm_rollout(tick(rollout, st, c1=answer))
    assert decision is not None
    assert decision.status.message == f"waiting for confirm-rollout webhook c1 ({shown})"


def test_a_failed_pre_rollout_check_holds_with_its_exact_message_and_a_warning() -> None:
    rollout = hooks(("p1", "pre-rollout"), ("p2", "pre-rollout"), failureThreshold=3)
    asked = [
        HookStatus(name="p1", type="pre-rollout", state="Asked", time=NOW),
        HookStatus(name="p2", type="pre-rollout", state="Asked", time=NOW),
    ]
    answers = {"p1": NO, "p2": TIMEOUT}
    st = record(rollout, initializing(hooks=asked), readings(hooks=answers), NOW)
    decision = pre_rollout(tick(rollout, st, **answers))
    assert decision is not None
    message = "failed check 1/3: pre-rollout webhook p1 (HTTP 503), p2 (timed out) failed"
    assert decision.status.phase is Phase.INITIALIZING
    assert decision.status.message == message
    assert decision.status.failed_checks == 1
    assert decision.actions == (EmitEvent("WebhookFailed", message, "Warning"),)


def test_a_failed_check_reached_from_another_phase_goes_home_with_both_events() -> None:
    """Reached from the traffic sign-off (it runs the checkpoint again): back to
    Initializing, the sign-off no longer awaited, the failure's Warning kept."""
    rollout = hooks(("p1", "pre-rollout"), failureThreshold=3)
    asked = HookStatus(name="p1", type="pre-rollout", state="Asked", time=NOW)
    st = status(Phase.AWAITING_APPROVAL, canary_weight=0, awaiting="beforeTraffic", hooks=[asked])
    st = record(rollout, st, readings(hooks={"p1": NO}), NOW)
    decision = pre_rollout(tick(rollout, st, p1=NO))
    assert decision is not None
    message = "failed check 1/3: pre-rollout webhook p1 (HTTP 503) failed"
    assert decision.status.phase is Phase.INITIALIZING
    assert decision.status.awaiting is None
    assert decision.status.message == message
    assert decision.actions == (
        EmitEvent("WebhookFailed", message, "Warning"),
        EmitEvent("AwaitingWebhook", message, "Normal"),
    )


def test_a_confirm_stage_reached_from_another_phase_goes_home_saying_why() -> None:
    rollout = hooks(("c1", "confirm-rollout"))
    st = status(Phase.AWAITING_APPROVAL, canary_weight=0, awaiting="beforeTraffic")
    decision = confirm_rollout(tick(rollout, st))
    assert decision is not None
    message = "waiting for confirm-rollout webhook c1"
    assert (decision.status.phase, decision.status.awaiting) == (Phase.INITIALIZING, None)
    assert decision.status.message == message
    assert decision.actions == (EmitEvent("AwaitingWebhook", message, "Normal"),)


def test_confirm_promotion_says_at_which_weight_the_analysis_passed() -> None:
    rollout = hooks(("cp", "confirm-promotion"), steps=[10, 50])
    st = status(Phase.PROGRESSING, canary_weight=50, step=1)
    decision = confirm_promotion(tick(rollout, st))
    assert decision is not None
    assert decision.status.message == (
        "analysis passed at 50%; waiting for confirm-promotion webhook cp"
    )


# ---------------------------------------------------------------- rollout hooks as gates
def analysis(verdict: Verdict = Verdict.PASSED, **kw: Any) -> AnalysisRecord:
    values: dict[str, Any] = {
        "time": NOW,
        "step": 0,
        "weight": 5,
        "verdict": verdict,
        "reason": "GatesPassed" if verdict is Verdict.PASSED else "GateFailed",
    }
    values.update(kw)
    return AnalysisRecord(**values)


def test_hook_gates_one_per_hook_unanswered_ones_without_data() -> None:
    rollout = hooks(("a", "rollout"), ("b", "rollout"), ("c", "rollout"))
    gated = with_hook_gates(rollout, analysis(), readings(hooks={"c": OK}))
    assert gated.gates == [
        GateResult(name="webhook/a", min=1.0, verdict="NoData"),
        GateResult(name="webhook/b", min=1.0, verdict="NoData"),
        GateResult(name="webhook/c", value=1.0, min=1.0, verdict="Passed"),
    ]
    assert (gated.verdict, gated.reason) == (Verdict.INCONCLUSIVE, "NoData")
    assert gated.message == "no answer from webhook a, b"


def test_hook_gates_failed_answers_fail_the_analysis_naming_each() -> None:
    rollout = hooks(("a", "rollout"), ("b", "rollout"))
    earlier = GateResult(name="errorRatio", value=0.001, max=0.02, verdict="Passed")
    gated = with_hook_gates(
        rollout, analysis(gates=[earlier]), readings(hooks={"a": NO, "b": TIMEOUT})
    )
    assert gated.gates == [
        earlier,
        GateResult(name="webhook/a", value=0.0, min=1.0, verdict="Failed"),
        GateResult(name="webhook/b", value=0.0, min=1.0, verdict="Failed"),
    ]
    assert (gated.verdict, gated.reason) == (Verdict.FAILED, "WebhookFailed")
    assert gated.message == "webhook a failed (HTTP 503); webhook b failed (timed out)"


def test_hook_gates_add_to_an_analysis_that_failed_already() -> None:
    rollout = hooks(("a", "rollout"))
    failed = analysis(Verdict.FAILED, message="errorRatio 0.5 > 0.02")
    gated = with_hook_gates(rollout, failed, readings(hooks={"a": NO}))
    assert (gated.verdict, gated.reason) == (Verdict.FAILED, "GateFailed")
    assert gated.message == "errorRatio 0.5 > 0.02; webhook a failed (HTTP 503)"


def test_a_hook_not_called_leaves_a_failed_or_inconclusive_analysis_as_it_is() -> None:
    rollout = hooks(("a", "rollout"))
    for verdict in (Verdict.FAILED, Verdict.INCONCLUSIVE):
        before = analysis(verdict, reason="TooFewRequests", message="few")
        gated = with_hook_gates(rollout, before, readings())
        assert (gated.verdict, gated.reason, gated.message) == (verdict, "TooFewRequests", "few")


def test_without_rollout_hooks_the_analysis_is_unchanged() -> None:
    before = analysis()
    assert with_hook_gates(hooks(("p", "pre-rollout")), before, readings()) is before


# ---------------------------------------------------------------- payload
def test_payload_has_every_field() -> None:
    rollout = hooks(("gate", "rollout"))
    st = status(Phase.PROGRESSING, canary_weight=10, step=1, failed_checks=2, message="on")
    body = payload("credit-default", "credit-risk", rollout.webhooks[0], st, NOW)
    assert body == {
        "apiVersion": "v1",
        "name": "credit-default",
        "namespace": "credit-risk",
        "phase": "Progressing",
        "type": "rollout",
        "hook": "gate",
        "model": {"name": "credit-default", "canaryVersion": "8", "stableVersion": "7"},
        "weight": 10,
        "step": 1,
        "failedChecks": 2,
        "message": "on",
        "lastAnalysis": None,
        "metadata": {},
        "time": "2026-03-01T12:00:00+00:00",
    }
