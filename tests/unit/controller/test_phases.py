"""What the phase handlers record: the contract refusal, the Initializing deadline, the
verdict tags and Events of promotion and rollback (through ``decide``, pure)."""

from __future__ import annotations

import pytest

from controller.rollout import Decision, decide
from controller.rollout.actions import EmitEvent, TagVersion
from controller.rollout.readings import ContractCheck, WorkloadReading
from controller.rollout.transitions import CONTRACT, PROMOTED
from controller.status import Condition, Phase, Promotion
from tests.unit.controller.factories import (
    CANDIDATE_URI,
    NAME,
    NOW,
    ago,
    readings,
    spec,
    status,
    workload,
)

pytestmark = pytest.mark.unit

P = Phase
SPEC = spec()
HELD = Promotion(stable_hpa="inference", original_min=2, held_min=5)
UNREADY = readings(canary=workload(CANDIDATE_URI, 1, ready=0))


def tag_of(decision: Decision) -> TagVersion:
    (tag,) = [a for a in decision.actions if isinstance(a, TagVersion)]
    return tag


def condition(decision: Decision, kind: str) -> Condition:
    found = decision.status.condition(kind)
    assert found is not None, kind
    return found


def test_an_incompatible_contract_is_refused_with_every_issue_named() -> None:
    issues = ("feature 'income' removed", "feature 'age' retyped")
    fresh = status(P.INITIALIZING, conditions=[])
    decision = decide(SPEC, fresh, readings(contract=ContractCheck(issues)), NOW)
    message = "incompatible contract: feature 'income' removed; feature 'age' retyped"
    assert decision.status.phase is P.FAILED
    assert decision.status.message == message
    contract, promoted = condition(decision, CONTRACT), condition(decision, PROMOTED)
    assert (contract.status, contract.reason) == ("False", "Incompatible")
    assert contract.message == message
    assert (promoted.status, promoted.reason) == ("False", "IncompatibleContract")
    assert promoted.message == message
    assert promoted.last_transition_time == NOW
    tag = tag_of(decision)
    assert (tag.model_name, tag.version) == (NAME, "8")
    assert tag.tags["rollout.verdict"] == "rejected"
    assert tag.tags["rollout.reason"] == "IncompatibleContract"
    assert tag.tags["rollout.message"] == message
    assert decision.events == (EmitEvent("IncompatibleContract", message, "Warning"),)


def test_initializing_waits_until_the_deadline_itself_and_rolls_back_after_it() -> None:
    at_deadline = decide(SPEC, status(P.INITIALIZING, phase_since=ago(600)), UNREADY, NOW)
    assert at_deadline.status.phase is P.INITIALIZING
    past = decide(SPEC, status(P.INITIALIZING, phase_since=ago(600.5)), UNREADY, NOW)
    assert past.status.phase is P.ROLLING_BACK
    assert past.status.message == "rolling back: canary not ready within progressDeadline 600s"


def test_the_contract_check_is_awaited_with_its_own_message() -> None:
    waiting = readings(contract=None, canary=WorkloadReading())
    decision = decide(SPEC, status(P.INITIALIZING), waiting, NOW)
    assert decision.status.phase is P.INITIALIZING
    assert decision.status.message == "checking the candidate's contract"


def test_a_compatible_contract_is_recorded_without_a_message() -> None:
    decision = decide(SPEC, status(P.INITIALIZING), UNREADY, NOW)
    contract = condition(decision, CONTRACT)
    assert (contract.status, contract.reason, contract.message) == ("True", "Compatible", "")


def test_the_promotion_verdict_is_tagged_on_the_promoted_version() -> None:
    promoting = status(P.PROMOTING, canary_weight=0, promotion=HELD)
    decision = decide(SPEC, promoting, readings(stable=workload(CANDIDATE_URI, 5)), NOW)
    assert decision.status.phase is P.SUCCEEDED
    tag = tag_of(decision)
    assert (tag.model_name, tag.version) == (NAME, "8")
    assert tag.tags["rollout.verdict"] == "promoted"
    assert tag.tags["rollout.reason"] == "Promoted"
    assert tag.tags["rollout.message"] == "v8 promoted: stable serves it at 100%"


def test_a_rollback_is_recorded_with_the_reason_and_message_of_its_condition() -> None:
    why = Condition(
        type=PROMOTED,
        status="False",
        reason="FailedChecks",
        message="failed check 3/3: errorRatio too high",
        last_transition_time=ago(30),
    )
    rolling = status(P.ROLLING_BACK, canary_weight=0, conditions=[why], message="rolling back")
    decision = decide(SPEC, rolling, readings(), NOW)
    assert decision.status.phase is P.FAILED
    assert decision.status.message == "v8 rolled back: failed check 3/3: errorRatio too high"
    tag = tag_of(decision)
    assert (tag.model_name, tag.version) == (NAME, "8")
    assert tag.tags["rollout.reason"] == "FailedChecks"
    assert tag.tags["rollout.message"] == "failed check 3/3: errorRatio too high"
    (event,) = decision.events
    assert (event.reason, event.type) == ("RolledBack", "Warning")


def test_a_rollback_without_its_condition_falls_back_to_the_status_message() -> None:
    rolling = status(P.ROLLING_BACK, canary_weight=0, conditions=[], message="aborted earlier")
    decision = decide(SPEC, rolling, readings(), NOW)
    tag = tag_of(decision)
    assert tag.tags["rollout.reason"] == "RolledBack"
    assert tag.tags["rollout.message"] == "aborted earlier"
    assert decision.status.message == "v8 rolled back: aborted earlier"


def test_the_first_step_is_step_zero_whatever_step_the_status_held() -> None:
    """``first_step`` sets the step itself (a status restored with a stale step, e.g. from a
    retried attempt, still starts at the first weight's step)."""
    stale = status(P.INITIALIZING, step=2)
    decision = decide(SPEC, stale, readings(), NOW)
    assert decision.status.phase is P.PROGRESSING
    assert decision.status.step == 0
    assert decision.status.canary_weight == SPEC.canary.weights()[0]
