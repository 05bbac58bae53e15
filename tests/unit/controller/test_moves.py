"""The shared moves as a tick sees them: a rollback ends any pause and warns, a pause and a
resume keep the Paused condition and the status in step (through ``decide``, pure)."""

from __future__ import annotations

import pytest

from controller.rollout import Decision, decide
from controller.rollout.actions import SetWeight
from controller.rollout.transitions import PAUSED, PROMOTED
from controller.status import Condition, Phase, Promotion, ShadowResult
from tests.unit.controller.factories import NOW, ago, readings, spec, status

pytestmark = pytest.mark.unit

P = Phase
SPEC = spec()


def condition(decision: Decision, kind: str) -> Condition:
    found = decision.status.condition(kind)
    assert found is not None, kind
    return found


def test_an_abort_during_a_pause_ends_the_pause_and_warns() -> None:
    paused = status(P.PAUSED, paused_from=P.PROGRESSING, paused_by="annotation")
    decision = decide(SPEC, paused, readings(action="abort"), NOW)
    assert decision.status.phase is P.ROLLING_BACK
    assert (decision.status.paused_from, decision.status.paused_by) == (None, None)
    resumed = condition(decision, PAUSED)
    assert (resumed.status, resumed.reason, resumed.message) == ("False", "Resumed", "")
    (event,) = decision.events
    assert (event.reason, event.type) == ("Aborted", "Warning")


def test_a_rollback_stamps_a_promoted_condition_it_adds_with_now() -> None:
    """A status without the Promoted condition (written before it existed) gets one."""
    decision = decide(SPEC, status(conditions=[]), readings(action="abort"), NOW)
    promoted = condition(decision, PROMOTED)
    assert (promoted.status, promoted.reason) == ("False", "Aborted")
    assert promoted.last_transition_time == NOW


def test_a_pause_names_who_paused_and_where() -> None:
    decision = decide(SPEC, status(), readings(action="pause"), NOW)
    assert decision.status.phase is P.PAUSED
    assert decision.status.message == "paused by annotation in phase Progressing"
    paused = condition(decision, PAUSED)
    assert (paused.status, paused.reason, paused.message) == ("True", "PausedByAnnotation", "")
    (event,) = [e for e in decision.events if e.reason == "Paused"]
    assert event.message == "paused by annotation in phase Progressing"


def test_a_resume_records_the_resumed_condition_and_clears_the_pause() -> None:
    since = Condition(
        type=PAUSED, status="True", reason="PausedBySpec", last_transition_time=ago(90)
    )
    paused = status(
        P.PAUSED,
        paused_from=P.PROGRESSING,
        paused_by="spec",
        conditions=[since],
        canary_not_ready_since=ago(30),
    )
    decision = decide(SPEC, paused, readings(), NOW)
    assert decision.status.phase is P.PROGRESSING
    assert decision.status.message == "resumed into Progressing"
    resumed = condition(decision, PAUSED)
    assert (resumed.status, resumed.reason, resumed.message) == ("False", "Resumed", "")
    assert resumed.last_transition_time == NOW
    assert (decision.status.paused_from, decision.status.paused_by) == (None, None)
    assert decision.status.canary_not_ready_since is None
    assert decision.status.last_analysis_time == NOW  # the analysis interval restarts


def test_a_resume_into_another_phase_keeps_the_last_analysis_time() -> None:
    paused = status(
        P.PAUSED, paused_from=P.INITIALIZING, paused_by="spec", last_analysis_time=ago(100)
    )
    decision = decide(SPEC, paused, readings(), NOW)
    assert decision.status.phase is P.INITIALIZING
    assert decision.status.last_analysis_time == ago(100)


SHADOW = ShadowResult(canary_version="8", started_at=ago(300), checked_at=ago(20))


def test_only_a_resume_into_shadowing_restarts_the_shadow_window() -> None:
    shadow_spec = spec(shadow={"enabled": True})
    into_shadow = status(P.PAUSED, paused_from=P.SHADOWING, paused_by="spec", shadow=SHADOW)
    restarted = decide(shadow_spec, into_shadow, readings(), NOW).status.shadow
    assert restarted is not None
    assert (restarted.started_at, restarted.checked_at) == (NOW, None)
    into_progress = into_shadow.model_copy(update={"paused_from": P.PROGRESSING})
    kept = decide(shadow_spec, into_progress, readings(), NOW).status.shadow
    assert kept == SHADOW


def test_a_new_candidate_starts_with_no_retries_and_traffic_back_even_from_one_percent() -> None:
    running = status(canary_weight=1, retries=2, canary_version="6")
    decision = decide(SPEC, running, readings(), NOW)
    assert decision.status.phase is P.INITIALIZING
    assert decision.status.retries == 0
    assert SetWeight(0) in decision.actions


def test_a_candidate_that_is_already_stable_succeeds_with_traffic_back_on_stable() -> None:
    running = status(canary_weight=10)
    decision = decide(SPEC, running, readings(candidate_version="7"), NOW)
    assert decision.status.phase is P.SUCCEEDED
    assert decision.status.message == "candidate v7 is already the stable version"
    promoted = condition(decision, PROMOTED)
    assert (promoted.status, promoted.reason, promoted.message) == ("True", "AlreadyStable", "")
    assert decision.effects[0] == SetWeight(0)


def test_a_promotion_ends_a_pause_and_records_that_no_floor_was_held() -> None:
    paused = status(P.PAUSED, paused_from=P.PROGRESSING, paused_by="annotation")
    decision = decide(SPEC, paused, readings(action="promote", stable_hpa=None), NOW)
    assert decision.status.phase is P.PROMOTING
    assert (decision.status.paused_from, decision.status.paused_by) == (None, None)
    resumed = condition(decision, PAUSED)
    assert (resumed.status, resumed.reason, resumed.message) == ("False", "Resumed", "")
    assert resumed.last_transition_time == NOW
    assert decision.status.promotion == Promotion()  # recorded, with no HPA floor to give back
