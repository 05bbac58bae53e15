"""``spec.shadow`` changed while the canary takes traffic: the canary is not re-templated
(no shadow pods taking real traffic, no baseline added or dropped); the change waits for
the next candidate and the controller says so once (condition + Event)."""

from __future__ import annotations

import pytest

from controller.rollout import decide
from controller.rollout.actions import EmitEvent, EnsureCanary
from controller.rollout.decision import Decision
from controller.rollout.shadow_change import SHADOW_CHANGE
from controller.spec import RolloutSpec
from controller.status import Phase, RolloutStatus, ShadowResult, Verdict
from tests.unit.controller.factories import (
    CANDIDATE_URI,
    NOW,
    STABLE_URI,
    readings,
    spec,
    status,
    workload,
)

pytestmark = pytest.mark.unit

SHADOW_ON = spec(shadow={"enabled": True})
SHADOW_OFF = spec()
PASSED = ShadowResult(canary_version="8", baseline_version="7", verdict=Verdict.PASSED)
# an unready canary of an older template: the tick re-templates it
STALE = readings(canary=workload("models:/credit-default/6", 1, ready=0))
UNREADY = readings(canary=workload(CANDIDATE_URI, 1, ready=0))


def _ensure(decision: Decision) -> list[EnsureCanary]:
    return [a for a in decision.actions if isinstance(a, EnsureCanary)]


def _notices(decision: Decision) -> list[EmitEvent]:
    return [e for e in decision.events if e.reason == SHADOW_CHANGE]


def test_shadow_switched_on_while_progressing_never_makes_the_canary_shadow_pods() -> None:
    """The bug: the unready canary that takes traffic was re-templated as shadow pods
    (its decisions no longer recorded)."""
    decision = decide(SHADOW_ON, status(), STALE, NOW)
    assert decision.status.phase is Phase.PROGRESSING
    assert _ensure(decision) == [EnsureCanary(CANDIDATE_URI, 1, None, False)]


def test_shadow_switched_on_while_progressing_leaves_a_current_canary_alone() -> None:
    decision = decide(SHADOW_ON, status(), UNREADY, NOW)
    assert _ensure(decision) == []


def test_shadow_switched_off_after_its_phase_keeps_the_canary_baseline() -> None:
    decision = decide(SHADOW_OFF, status(shadow=PASSED), STALE, NOW)
    assert _ensure(decision) == [EnsureCanary(CANDIDATE_URI, 1, STABLE_URI, False)]


def test_the_deferred_change_is_said_once_with_a_condition_and_an_event() -> None:
    first = decide(SHADOW_ON, status(), readings(), NOW)
    condition = first.status.condition(SHADOW_CHANGE)
    assert condition is not None
    assert condition.status == "True"
    assert condition.reason == "NextCandidate"
    assert "next candidate" in condition.message
    (event,) = _notices(first)
    assert event.message == condition.message
    again = decide(SHADOW_ON, first.status, readings(), NOW)
    assert _notices(again) == []
    assert again.status.condition(SHADOW_CHANGE) == condition


def test_a_change_switched_back_clears_the_notice() -> None:
    first = decide(SHADOW_ON, status(), readings(), NOW)
    back = decide(SHADOW_OFF, first.status, readings(), NOW)
    assert back.status.condition(SHADOW_CHANGE) is None
    assert _notices(back) == []


def test_no_notice_when_the_setting_matches_the_rollout() -> None:
    for rollout_spec, state in ((SHADOW_OFF, status()), (SHADOW_ON, status(shadow=PASSED))):
        decision = decide(rollout_spec, state, readings(), NOW)
        assert decision.status.condition(SHADOW_CHANGE) is None
        assert _notices(decision) == []


def test_before_traffic_the_change_takes_effect_for_this_candidate() -> None:
    """At weight 0 (Initializing) shadow switched on starts this candidate's shadow phase;
    nothing is deferred."""
    initializing = status(Phase.INITIALIZING)
    shadow_pods = workload(CANDIDATE_URI, 1, baseline_uri=STABLE_URI, shadow=True)
    decision = decide(SHADOW_ON, initializing, readings(canary=shadow_pods), NOW)
    assert decision.status.phase is Phase.SHADOWING
    assert decision.status.condition(SHADOW_CHANGE) is None


def test_the_next_candidate_takes_the_setting_and_drops_the_notice() -> None:
    first = decide(SHADOW_ON, status(), readings(), NOW)
    nine = readings(candidate_version="9")
    decision = decide(SHADOW_ON, first.status, nine, NOW)
    assert decision.status.canary_version == "9"
    assert decision.status.condition(SHADOW_CHANGE) is None


@pytest.mark.parametrize(
    ("rollout_spec", "state", "change"),
    [(SHADOW_ON, status(), "switched on"), (SHADOW_OFF, status(shadow=PASSED), "switched off")],
)
def test_the_notice_says_which_change_waits_and_for_what(
    rollout_spec: RolloutSpec, state: RolloutStatus, change: str
) -> None:
    decision = decide(rollout_spec, state, readings(), NOW)
    condition = decision.status.condition(SHADOW_CHANGE)
    assert condition is not None
    assert condition.message == (
        f"shadow {change} while v8 takes traffic: its canary is not re-templated; the change "
        "takes effect for the next candidate"
    )


def test_clearing_the_notice_keeps_the_tick_s_actions() -> None:
    first = decide(SHADOW_ON, status(), readings(), NOW)
    back = decide(SHADOW_OFF, first.status, STALE, NOW)  # switched back; canary re-templated
    assert back.status.condition(SHADOW_CHANGE) is None
    assert _ensure(back) == [EnsureCanary(CANDIDATE_URI, 1, None, False)]
