"""The shadow stages called directly (pure): the re-template stage after the phase, the
phase's own holds and timeout at their exact bounds, and the texts its records carry."""

from __future__ import annotations

from typing import Any

import pytest

from controller.rollout import decide, shadow
from controller.rollout.actions import EnsureCanary, ScaleCanary
from controller.rollout.shadow_phase import shadowing
from controller.rollout.transitions import Tick, canary_bounds
from controller.status import GateResult, Phase, RolloutStatus, ShadowResult, Verdict
from tests.unit.controller.factories import (
    CANDIDATE_URI,
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

# steps whose first two weights give different canary floors (1 and 9 of 10 replicas)
SHADOW = spec(
    shadow={"enabled": True, "duration": "5m", "timeout": "30m"},
    canary={"steps": [10, 90]},
    autoscaling={"minReplicas": 10, "maxReplicas": 20},
)
LOW, HIGH = canary_bounds(SHADOW.autoscaling, 10)
RECORD = ShadowResult(canary_version="8", baseline_version="7", started_at=ago(600))
PASSED = RECORD.model_copy(update={"verdict": Verdict.PASSED, "finished_at": ago(5)})
ENSURE = (EnsureCanary(CANDIDATE_URI, LOW, STABLE_URI), ScaleCanary(LOW, HIGH))
FLAGGED = workload(CANDIDATE_URI, 1, baseline_uri=STABLE_URI, shadow=True)


def tick(phase: Phase, canary: Any, record: ShadowResult | None = PASSED, **kw: Any) -> Tick:
    state = status(phase, shadow=record, canary_weight=0, **kw)
    return Tick(SHADOW, state, readings(canary=canary, paired=kw.get("paired")), NOW)


def test_bounds_of_the_first_step_differ_from_the_second() -> None:
    assert canary_bounds(SHADOW.autoscaling, 90)[0] != LOW


# ---------------------------------------------------------------- shadow_cleared
def test_a_shadow_canary_is_re_templated_and_awaited_at_weight_zero() -> None:
    decision = shadow.shadow_cleared(tick(Phase.AWAITING_APPROVAL, FLAGGED))
    assert decision is not None
    assert decision.status.phase is Phase.INITIALIZING
    assert decision.effects == ENSURE
    message = (
        "v8 re-templated without the shadow flag (its decisions are recorded from now on): "
        "waiting for it at weight 0 (1/1 ready)"
    )
    assert decision.status.message == message
    assert [(e.reason, e.message) for e in decision.events] == [("CanaryRetemplated", message)]


def test_in_initializing_the_re_template_holds_without_a_new_event() -> None:
    decision = shadow.shadow_cleared(tick(Phase.INITIALIZING, FLAGGED))
    assert decision is not None
    assert decision.status.phase is Phase.INITIALIZING
    assert decision.effects == (
        EnsureCanary(CANDIDATE_URI, LOW, STABLE_URI),
        ScaleCanary(LOW, HIGH),
    )
    assert decision.events == ()
    assert decision.status.message.startswith("v8 re-templated without the shadow flag")
    assert decision.status.message.endswith("(1/1 ready)")


def test_a_re_templated_canary_still_rolling_out_is_left_alone() -> None:
    rolling = workload(CANDIDATE_URI, 2, ready=0, baseline_uri=STABLE_URI, updated=1, total=3)
    decision = shadow.shadow_cleared(tick(Phase.INITIALIZING, rolling))
    assert decision is not None
    assert decision.effects == ()
    assert decision.status.message.endswith("(0/2 ready)")


@pytest.mark.parametrize(
    "canary",
    [
        workload("models:/credit-default/6", 1, ready=0, baseline_uri=STABLE_URI),  # old model
        workload(CANDIDATE_URI, 0, ready=0, baseline_uri=STABLE_URI),  # scaled away
        workload(CANDIDATE_URI, 1, ready=0, baseline_uri=None),  # baseline lost
    ],
)
def test_a_canary_not_as_needed_is_re_templated(canary: Any) -> None:
    decision = shadow.shadow_cleared(tick(Phase.INITIALIZING, canary))
    assert decision is not None
    assert decision.effects == (
        EnsureCanary(CANDIDATE_URI, LOW, STABLE_URI),
        ScaleCanary(LOW, HIGH),
    )


def test_no_re_template_without_a_shadow_of_this_candidate() -> None:
    plain = workload(CANDIDATE_URI, 1, ready=0, baseline_uri=STABLE_URI)
    other = PASSED.model_copy(update={"canary_version": "6"})
    assert shadow.shadow_cleared(tick(Phase.INITIALIZING, plain, other)) is None
    assert shadow.shadow_cleared(tick(Phase.INITIALIZING, plain, None)) is None
    # a shadow pod left from another candidate's phase is re-templated all the same
    assert shadow.shadow_cleared(tick(Phase.INITIALIZING, FLAGGED, None)) is not None


def test_the_shadow_of_this_candidate_with_an_unready_plain_canary_waits() -> None:
    plain = workload(CANDIDATE_URI, 1, ready=0, baseline_uri=STABLE_URI)
    decision = shadow.shadow_cleared(tick(Phase.INITIALIZING, plain))
    assert decision is not None
    assert decision.effects == ()


# ---------------------------------------------------------------- the shadow phase
def shadowing_status(**overrides: Any) -> RolloutStatus:
    values: dict[str, Any] = {"shadow": RECORD, "phase_since": ago(600), "canary_weight": 0}
    values.update(overrides)
    return status(Phase.SHADOWING, **values)


def shadow_tick(state: RolloutStatus, **kw: Any) -> Tick:
    values: dict[str, Any] = {"canary": FLAGGED, "metrics": None, "paired": paired()}
    values.update(kw)
    return Tick(SHADOW, state, readings(**values), NOW)


def test_shadowing_without_a_record_starts_the_phase() -> None:
    decision = shadowing(shadow_tick(shadowing_status(shadow=None)))
    assert decision.status.phase is Phase.SHADOWING
    assert decision.status.shadow is not None
    assert decision.status.shadow.started_at == NOW


def test_a_skipped_phase_keeps_its_record() -> None:
    decision = decide(spec(), shadowing_status(), readings(canary=FLAGGED), NOW)
    assert decision.status.shadow == RECORD
    assert decision.status.message.startswith("v8 re-templated")
    assert decision.events[0].message == "shadow disabled in the spec: shadow phase skipped"


def test_the_verdict_comes_at_the_duration_itself() -> None:
    at_duration = shadowing_status(shadow=RECORD.model_copy(update={"started_at": ago(300)}))
    decision = shadowing(shadow_tick(at_duration))
    assert decision.status.shadow is not None
    assert decision.status.shadow.verdict is Verdict.PASSED


def test_the_timeout_is_not_reached_at_its_bound_then_rolls_back_with_the_record() -> None:
    started = {"started_at": ago(1800)}
    at_bound = shadowing_status(shadow=RECORD.model_copy(update=started))
    held = shadowing(shadow_tick(at_bound, paired=None))
    assert held.status.phase is Phase.SHADOWING
    late = shadowing_status(shadow=RECORD.model_copy(update={"started_at": ago(1801)}))
    decision = shadowing(shadow_tick(late, paired=None))
    assert decision.status.phase is Phase.ROLLING_BACK
    assert decision.status.shadow is not None
    assert decision.status.shadow.finished_at == NOW
    assert decision.status.message == (
        "rolling back: no shadow verdict within 30m: no paired figures yet"
    )


def test_the_timeout_of_an_unready_canary_records_when_it_finished() -> None:
    late = shadowing_status(shadow=RECORD.model_copy(update={"started_at": ago(1801)}))
    gone = workload(CANDIDATE_URI, 1, ready=0, baseline_uri=STABLE_URI, shadow=True)
    decision = shadowing(shadow_tick(late, canary=gone))
    assert decision.status.phase is Phase.ROLLING_BACK
    assert decision.status.shadow is not None
    assert decision.status.shadow.finished_at == NOW


@pytest.mark.parametrize(
    "canary",
    [
        workload("models:/credit-default/6", 1, ready=0, baseline_uri=STABLE_URI, shadow=True),
        workload(CANDIDATE_URI, 0, ready=0, baseline_uri=STABLE_URI, shadow=True),
    ],
)
def test_an_unready_shadow_canary_not_as_needed_is_re_templated(canary: Any) -> None:
    decision = shadowing(shadow_tick(shadowing_status(), canary=canary))
    assert decision.status.phase is Phase.SHADOWING
    assert decision.effects == (EnsureCanary(CANDIDATE_URI, LOW, STABLE_URI, True),)


# ---------------------------------------------------------------- texts
def test_a_stable_without_a_registry_version_makes_the_phase_impossible() -> None:
    state = status(Phase.INITIALIZING, stable_version=None, canary_weight=0)
    decision = shadow.shadow_stage(Tick(SHADOW, state, readings(), NOW))
    assert decision is not None
    assert decision.status.phase is Phase.ROLLING_BACK
    assert decision.status.message == (
        "rolling back: shadow phase impossible: the stable Deployment serves no registry version"
    )


def gate(name: str, verdict: Any, value: float = 0.5, limit: float = 0.1) -> GateResult:
    return GateResult(name=name, value=value, max=limit, verdict=verdict)


def test_verdict_texts_list_every_gate() -> None:
    failed = shadow._verdict([gate("a", "Failed"), gate("b", "Failed", 0.25, 0.2)])
    assert failed == (Verdict.FAILED, "GateFailed", "a 0.5 > 0.1; b 0.25 > 0.2")
    missing = shadow._verdict([gate("a", "NoData"), gate("b", "NoData")])
    assert missing == (Verdict.INCONCLUSIVE, "NoData", "no data for a, b")
    undecided = shadow._verdict([gate("a", "Undecided"), gate("b", "Undecided")])
    assert undecided[2] == (
        "a bound 0.5 > 0.1, not shown worse; b bound 0.5 > 0.1, not shown worse"
    )
    assert shadow._verdict([gate("a", "Passed")]) == (
        Verdict.PASSED,
        "GatesPassed",
        "every paired gate passed",
    )


def test_min_requests_pairs_are_enough_for_a_verdict() -> None:
    rollout = spec(shadow={"enabled": True, "minRequests": 1000})
    result = shadow.judge(rollout.shadow, paired(1000, 0), RECORD, NOW)
    assert result.verdict is Verdict.PASSED
    short = shadow.judge(rollout.shadow, paired(999, 0), RECORD, NOW)
    assert short.reason == "TooFewPairs"


def test_the_summary_shows_each_figure_and_n_a_for_a_missing_one() -> None:
    record = ShadowResult(
        pairs=1000,
        flips=4,
        flip_rate=0.004,
        flip_rate_lower=0.001,
        flip_rate_upper=0.01,
        mean_abs_diff=0.02,
        score_psi=0.03,
    )
    assert shadow.summary(record) == (
        "1000 pairs, 4 flips (rate 0.004, interval 0.001-0.01), "
        "mean |score diff| 0.02, score PSI 0.03"
    )
    assert shadow.summary(ShadowResult()) == (
        "n/a pairs, n/a flips (rate n/a, interval n/a-n/a), mean |score diff| n/a, score PSI n/a"
    )
