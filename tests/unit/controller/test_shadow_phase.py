"""The Shadowing phase through ``decide``: entered before the first traffic step, judged
on the paired figures, left with the mirror off — on to traffic, or rolled back before any
applicant saw the candidate — and every other way out removes the mirror too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.rollout import decide
from controller.rollout.actions import (
    DeleteCanary,
    EnsureCanary,
    ScaleCanary,
    ScaleCanaryDown,
    SetMirror,
    SetWeight,
    TagVersion,
)
from controller.rollout.readings import PairedReadings, Readings
from controller.status import Phase, RolloutStatus, ShadowResult, Verdict
from tests.unit.controller.factories import (
    CANDIDATE_URI,
    NAME,
    NOW,
    STABLE_URI,
    ago,
    readings,
    spec,
    status,
    workload,
)
from tests.unit.controller.test_shadow import paired

pytestmark = pytest.mark.unit

SHADOW = spec(shadow={"enabled": True})
RECORD = ShadowResult(canary_version="8", baseline_version="7", started_at=ago(600))
CANARY = workload(CANDIDATE_URI, 1, baseline_uri=STABLE_URI, shadow=True)


def shadowing(**overrides: Any) -> RolloutStatus:
    values: dict[str, Any] = {"shadow": RECORD, "phase_since": ago(600)}
    values.update(overrides)
    return status(Phase.SHADOWING, **values)


def seen(**overrides: Any) -> Readings:
    values: dict[str, Any] = {"canary": CANARY, "metrics": None, "paired": paired()}
    values.update(overrides)
    return readings(**values)


def kinds(actions: tuple[Any, ...]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_initializing_creates_a_canary_that_scores_the_baseline_too() -> None:
    from controller.rollout.readings import WorkloadReading

    decision = decide(SHADOW, status(Phase.INITIALIZING), seen(canary=WorkloadReading()), NOW)
    ensure = EnsureCanary(CANDIDATE_URI, 1, STABLE_URI, shadow=True)  # a shadow pod
    assert decision.effects == (ensure, ScaleCanary(1, 1))
    plain = decide(SHADOW, status(Phase.INITIALIZING), seen(canary=workload(CANDIDATE_URI)), NOW)
    assert plain.effects[0] == ensure  # baseline missing
    unflagged = workload(CANDIDATE_URI, 1, baseline_uri=STABLE_URI)
    waits = decide(SHADOW, status(Phase.INITIALIZING), seen(canary=unflagged), NOW)
    assert waits.status.phase is Phase.INITIALIZING, "no mirror to a pod that would record"
    assert waits.effects[0] == ensure


def test_ready_canary_enters_shadowing_not_traffic() -> None:
    decision = decide(SHADOW, status(Phase.INITIALIZING), seen(), NOW)
    assert decision.status.phase is Phase.SHADOWING
    assert decision.effects == (SetMirror(100),)
    assert decision.status.canary_weight == 0
    assert decision.status.shadow == ShadowResult(
        canary_version="8", baseline_version="7", started_at=NOW
    )


def test_without_shadow_the_ready_canary_takes_the_first_step() -> None:
    decision = decide(spec(), status(Phase.INITIALIZING), seen(canary=workload(CANDIDATE_URI)), NOW)
    assert decision.status.phase is Phase.PROGRESSING
    assert SetMirror(0) not in decision.actions


def test_holds_until_the_duration_is_over_even_with_figures() -> None:
    young = shadowing(shadow=RECORD.model_copy(update={"started_at": ago(100)}))
    decision = decide(SHADOW, young, seen(), NOW)
    assert decision.status.phase is Phase.SHADOWING
    assert decision.actions == ()
    assert "verdict after 5m and 500 paired decisions (timeout 30m)" in decision.status.message


def test_holds_between_readings() -> None:
    decision = decide(SHADOW, shadowing(), seen(paired=None), NOW)
    assert decision.status.phase is Phase.SHADOWING
    assert decision.actions == ()


UNFLAGGED = workload(CANDIDATE_URI, 1, baseline_uri=STABLE_URI)  # re-templated, ready


def test_a_pass_records_the_result_turns_the_mirror_off_and_re_templates_the_canary() -> None:
    bands = (({"baseline_band": "A", "band": "B"}, 4.0),)
    decision = decide(SHADOW, shadowing(), seen(paired=paired(996, 4, bands=bands)), NOW)
    assert decision.status.phase is Phase.INITIALIZING, "no traffic to a shadow pod"
    assert decision.status.canary_weight == 0
    assert kinds(decision.actions) == [
        "SetMirror",
        "TagVersion",
        "EnsureCanary",
        "ScaleCanary",
        "EmitEvent",
        "EmitEvent",
    ]
    assert decision.effects[0] == SetMirror(0)
    assert decision.effects[2] == EnsureCanary(CANDIDATE_URI, 1, STABLE_URI, shadow=False)
    assert not any(isinstance(a, SetWeight) for a in decision.actions)
    assert [e.reason for e in decision.events] == ["ShadowPassed", "CanaryRetemplated"]
    result = decision.status.shadow
    assert result is not None
    assert result.verdict is Verdict.PASSED
    assert (result.pairs, result.flips, result.finished_at) == (1000, 4, NOW)
    assert result.bands == {"A": {"B": 4}}
    tag = next(a for a in decision.actions if isinstance(a, TagVersion))
    assert tag.best_effort
    assert (tag.model_name, tag.version) == (NAME, "8")
    recorded = json.loads(tag.tags["rollout.shadow"])
    assert recorded["verdict"] == "Passed"
    assert recorded["bands"] == {"A": {"B": 4}}
    assert "1000 pairs, 4 flips" in decision.events[0].message


def test_after_a_pass_the_first_step_waits_for_the_re_templated_canary() -> None:
    passed = decide(SHADOW, shadowing(), seen(paired=paired(1000, 0)), NOW).status
    rolling = workload(CANDIDATE_URI, 1, ready=0, baseline_uri=STABLE_URI)
    held = decide(SHADOW, passed, seen(canary=rolling, paired=None), NOW)
    assert held.status.phase is Phase.INITIALIZING
    assert held.effects == (), "the template is already right: no re-apply"
    assert held.status.canary_weight == 0
    old_pods = workload(CANDIDATE_URI, 1, baseline_uri=STABLE_URI, total=2, updated=1)
    assert decide(SHADOW, passed, seen(canary=old_pods, paired=None), NOW).actions == ()
    ready = decide(SHADOW, passed, seen(canary=UNFLAGGED, paired=None), NOW)
    assert ready.status.phase is Phase.PROGRESSING
    assert SetWeight(5) in ready.effects
    assert SetMirror(100) not in ready.effects, "the shadow is not run again"
    assert [e.reason for e in ready.events] == ["Progressing"]


def test_never_traffic_to_a_canary_still_flagged_shadow() -> None:
    """Whatever the way to the first step (after the pass, after a restart, after a
    sign-off), a canary whose template still carries the flag gets no weight."""
    passed = RECORD.model_copy(update={"verdict": Verdict.PASSED, "finished_at": ago(5)})
    for phase in (Phase.INITIALIZING, Phase.SHADOWING):
        decision = decide(SHADOW, status(phase, shadow=passed), seen(paired=None), NOW)
        assert decision.status.phase is Phase.INITIALIZING, phase
        assert not any(isinstance(a, SetWeight) for a in decision.actions), phase
        assert EnsureCanary(CANDIDATE_URI, 1, STABLE_URI) in decision.effects, phase
    approving = status(Phase.AWAITING_APPROVAL, shadow=passed, awaiting="beforeTraffic")
    signed = spec(shadow={"enabled": True}, canary={"approval": {"beforeTraffic": True}})
    approved = decide(signed, approving, seen(paired=None, action="approve"), NOW)
    assert approved.status.phase is Phase.INITIALIZING
    assert not any(isinstance(a, SetWeight) for a in approved.actions)


def test_a_failure_rolls_back_before_any_traffic() -> None:
    decision = decide(SHADOW, shadowing(), seen(paired=paired(900, 100)), NOW)
    assert decision.status.phase is Phase.ROLLING_BACK
    assert decision.effects == (SetWeight(0), SetMirror(0), ScaleCanaryDown())
    assert decision.events[-1].reason == "ShadowFailed"
    assert decision.status.canary_weight == 0
    cond = decision.status.condition("Promoted")
    assert cond is not None
    assert cond.reason == "ShadowFailed"
    result = decision.status.shadow
    assert result is not None
    assert result.verdict is Verdict.FAILED
    assert result.finished_at == NOW
    assert "flipRate" in decision.status.message


def test_the_rollback_is_recorded_with_the_shadow_figures() -> None:
    failed = decide(SHADOW, shadowing(), seen(paired=paired(900, 100)), NOW)
    decision = decide(SHADOW, failed.status, seen(paired=None), NOW)
    assert decision.status.phase is Phase.FAILED
    assert SetMirror(0) in decision.effects  # re-asserted with the safe state
    tags = next(a for a in decision.actions if isinstance(a, TagVersion)).tags
    assert tags["rollout.reason"] == "ShadowFailed"
    assert json.loads(tags["rollout.shadow"])["flips"] == 100


def test_inconclusive_holds_and_records_its_progress() -> None:
    decision = decide(SHADOW, shadowing(), seen(paired=paired(300, 0)), NOW)
    assert decision.status.phase is Phase.SHADOWING
    assert decision.actions == ()
    result = decision.status.shadow
    assert result is not None
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.checked_at == NOW
    assert result.pairs == 300
    assert "TooFewPairs: 300 of 500 paired decisions" in decision.status.message


def test_prometheus_unreachable_holds_until_the_timeout() -> None:
    down = seen(paired=PairedReadings.unreachable("connection refused"))
    held = decide(SHADOW, shadowing(), down, NOW)
    assert held.status.phase is Phase.SHADOWING
    late = shadowing(shadow=RECORD.model_copy(update={"started_at": ago(1801)}))
    decision = decide(SHADOW, late, down, NOW)
    assert decision.status.phase is Phase.ROLLING_BACK
    assert decision.events[-1].reason == "ShadowInconclusive"
    assert "no shadow verdict within 30m: connection refused" in decision.status.message
    assert SetMirror(0) in decision.effects


def test_the_timeout_runs_between_readings_too() -> None:
    late = shadowing(shadow=RECORD.model_copy(update={"started_at": ago(1801)}))
    decision = decide(SHADOW, late, seen(paired=None), NOW)
    assert decision.status.phase is Phase.ROLLING_BACK
    assert "no paired figures yet" in decision.status.message
    on_time = decide(SHADOW, shadowing(), seen(paired=None), NOW)
    assert on_time.status.phase is Phase.SHADOWING


def test_an_unready_canary_holds_the_shadow_and_is_recreated() -> None:
    gone = seen(canary=workload(CANDIDATE_URI, 0, ready=0))
    decision = decide(SHADOW, shadowing(), gone, NOW)
    assert decision.status.phase is Phase.SHADOWING
    ensure = EnsureCanary(CANDIDATE_URI, 1, STABLE_URI, shadow=True)
    assert decision.effects == (ensure,)
    assert "shadow held" in decision.status.message
    flagged = workload(CANDIDATE_URI, 1, ready=0, baseline_uri=STABLE_URI, shadow=True)
    assert decide(SHADOW, shadowing(), seen(canary=flagged), NOW).effects == ()
    no_baseline = decide(SHADOW, shadowing(), seen(canary=workload(CANDIDATE_URI)), NOW)
    assert no_baseline.effects == (ensure,)
    unflagged = decide(SHADOW, shadowing(), seen(canary=UNFLAGGED), NOW)
    assert unflagged.status.phase is Phase.SHADOWING
    assert unflagged.effects == (ensure,), "a pod that would record gets no verdict"


def test_shadow_switched_off_mid_phase_moves_on_to_traffic() -> None:
    decision = decide(spec(), shadowing(), seen(), NOW)
    assert decision.status.phase is Phase.INITIALIZING
    assert decision.effects[0] == SetMirror(0)
    assert decision.effects[1] == EnsureCanary(CANDIDATE_URI, 1, None, shadow=False)
    assert [e.reason for e in decision.events] == ["ShadowSkipped", "CanaryRetemplated"]
    plain = seen(canary=workload(CANDIDATE_URI), paired=None)
    assert decide(spec(), decision.status, plain, NOW).status.phase is Phase.PROGRESSING


def test_a_record_of_another_candidate_restarts_the_shadow() -> None:
    stale = shadowing(shadow=RECORD.model_copy(update={"canary_version": "6"}))
    decision = decide(SHADOW, stale, seen(), NOW)
    assert decision.status.phase is Phase.SHADOWING
    assert decision.status.shadow is not None
    assert decision.status.shadow.canary_version == "8"
    assert decision.status.shadow.started_at == NOW


def test_abort_removes_the_mirror() -> None:
    decision = decide(SHADOW, shadowing(), seen(action="abort"), NOW)
    assert decision.status.phase is Phase.ROLLING_BACK
    assert SetMirror(0) in decision.effects
    assert SetWeight(0) in decision.effects


def test_promote_action_removes_the_mirror() -> None:
    decision = decide(SHADOW, shadowing(), seen(action="promote"), NOW)
    assert decision.status.phase is Phase.PROMOTING
    assert decision.effects[0] == SetMirror(0)


def test_deletion_removes_the_mirror() -> None:
    decision = decide(SHADOW, shadowing(), seen(deleting=True), NOW)
    assert decision.effects[:3] == (SetWeight(0), SetMirror(0), DeleteCanary())
    # also when shadow was switched off in the spec while the mirror was on
    assert SetMirror(0) in decide(spec(), shadowing(), seen(deleting=True), NOW).effects
    # a rollout that never shadowed leaves routes alone
    assert SetMirror(0) not in decide(spec(), status(), seen(deleting=True), NOW).effects


def test_a_new_candidate_removes_the_mirror_and_forgets_the_result() -> None:
    decision = decide(SHADOW, shadowing(), seen(candidate_version="9"), NOW)
    assert decision.status.phase is Phase.INITIALIZING
    assert SetMirror(0) in decision.effects
    assert decision.status.shadow is None


def test_retry_after_a_shadow_failure_shadows_again() -> None:
    failed = status(Phase.FAILED, shadow=RECORD.model_copy(update={"verdict": Verdict.FAILED}))
    retried = decide(SHADOW, failed, seen(action="retry"), NOW)
    assert retried.status.phase is Phase.INITIALIZING
    assert retried.status.shadow is None
    again = decide(SHADOW, retried.status, seen(), NOW)
    assert again.status.phase is Phase.SHADOWING


def test_pause_keeps_the_shadow_and_resume_restarts_its_window() -> None:
    paused = decide(SHADOW, shadowing(), seen(action="pause"), NOW)
    assert paused.status.phase is Phase.PAUSED
    assert paused.status.paused_from is Phase.SHADOWING
    resumed = decide(SHADOW, paused.status, seen(action="resume"), NOW)
    assert resumed.status.phase is Phase.SHADOWING
    assert resumed.status.shadow is not None
    assert resumed.status.shadow.started_at == NOW
    assert resumed.status.shadow.checked_at is None


def test_spec_pause_applies_in_shadowing() -> None:
    decision = decide(spec(shadow={"enabled": True}, paused=True), shadowing(), seen(), NOW)
    assert decision.status.phase is Phase.PAUSED


def test_a_passed_shadow_is_not_repeated_after_a_restart_of_the_controller() -> None:
    """Passed and recorded, but the first step's weight was not (the operator died):
    the next tick in Initializing goes straight to traffic."""
    passed = RECORD.model_copy(update={"verdict": Verdict.PASSED, "finished_at": ago(5)})
    decision = decide(SHADOW, status(Phase.INITIALIZING, shadow=passed), seen(), NOW)
    assert decision.status.phase is Phase.INITIALIZING  # the canary still flagged
    assert decision.effects[0] == EnsureCanary(CANDIDATE_URI, 1, STABLE_URI, shadow=False)
    ready = seen(canary=UNFLAGGED)
    decision = decide(SHADOW, status(Phase.INITIALIZING, shadow=passed), ready, NOW)
    assert decision.status.phase is Phase.PROGRESSING


def test_promotion_and_rollback_of_a_shadowed_rollout_reassert_no_mirror() -> None:
    promoting = status(Phase.PROMOTING)
    stable = workload(CANDIDATE_URI, 4)
    done = decide(SHADOW, promoting, seen(stable=stable), NOW)
    assert done.status.phase is Phase.SUCCEEDED
    assert SetMirror(0) in done.effects
    without = decide(spec(), promoting, seen(stable=stable), NOW)
    assert SetMirror(0) not in without.effects


def test_an_undecided_flip_rate_holds_then_times_out() -> None:
    """1.5 % flips: the interval straddles 0.02; more pairs would decide, the timeout
    bounds the wait — a candidate reaches traffic only once shown within the gate."""
    undecided = seen(paired=paired(985, 15))
    held = decide(SHADOW, shadowing(), undecided, NOW)
    assert held.status.phase is Phase.SHADOWING
    assert "Undecided" in held.status.message
    late = shadowing(shadow=RECORD.model_copy(update={"started_at": ago(1801)}))
    decision = decide(SHADOW, late, undecided, NOW)
    assert decision.status.phase is Phase.ROLLING_BACK
    assert decision.events[-1].reason == "ShadowInconclusive"
    assert "not shown worse" in decision.status.message


def test_a_start_with_shadow_enabled_clears_any_stale_mirror() -> None:
    decision = decide(SHADOW, status(Phase.PENDING), seen(), NOW)
    assert decision.status.phase is Phase.INITIALIZING
    assert decision.effects == (SetMirror(0),)
    assert decide(spec(), status(Phase.PENDING), seen(), NOW).effects == ()


def test_a_passed_shadow_hands_over_to_a_pre_rollout_hook_once() -> None:
    """Shadow is the first before-traffic stage: once it passes, a pre-rollout hook waits
    in Initializing (mirror already off); the shadow is not run again after the hook."""
    from controller.rollout.readings import HookResult

    hook = {"name": "load", "type": "pre-rollout", "url": "http://hooks.example/load"}
    rollout = spec(shadow={"enabled": True}, webhooks=[hook])
    passed = decide(rollout, shadowing(), seen(paired=paired(1000, 0)), NOW)
    assert passed.status.phase is Phase.INITIALIZING
    assert passed.effects[0] == SetMirror(0)
    assert [e.reason for e in passed.events] == ["ShadowPassed", "CanaryRetemplated"]
    retemplated = decide(rollout, passed.status, seen(canary=UNFLAGGED, paired=None), NOW)
    assert retemplated.status.phase is Phase.INITIALIZING
    assert retemplated.status.message == "waiting for pre-rollout webhook load"
    passed = retemplated
    hooks = {"load": HookResult(ok=True, code=200)}
    answered = seen(canary=UNFLAGGED, paired=None, hooks=hooks)
    decision = decide(rollout, passed.status, answered, NOW)
    assert decision.status.phase is Phase.PROGRESSING
    assert SetMirror(100) not in decision.effects
    assert decision.status.shadow == passed.status.shadow
