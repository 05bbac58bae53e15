"""The Progressing phase while the canary is not ready: how long it is given, when it is
re-templated, and what the status says (through ``decide``, pure)."""

from __future__ import annotations

import pytest

from controller.rollout import Decision, decide
from controller.rollout.actions import EmitEvent, EnsureCanary, TagVersion
from controller.status import Phase, ShadowResult, Verdict
from tests.unit.controller.factories import (
    CANDIDATE_URI,
    NAME,
    NOW,
    STABLE_URI,
    ago,
    metrics,
    readings,
    spec,
    status,
    workload,
)

pytestmark = pytest.mark.unit

P = Phase
SPEC = spec()
UNREADY = readings(canary=workload(CANDIDATE_URI, 1, ready=0))


def test_an_unready_canary_is_given_the_deadline_itself_then_rolled_back() -> None:
    at_deadline = decide(SPEC, status(canary_not_ready_since=ago(600)), UNREADY, NOW)
    assert at_deadline.status.phase is P.PROGRESSING
    assert at_deadline.status.canary_not_ready_since == ago(600)
    past = decide(SPEC, status(canary_not_ready_since=ago(600.5)), UNREADY, NOW)
    assert past.status.phase is P.ROLLING_BACK


def test_an_unready_canary_of_the_candidate_is_left_alone_and_the_analysis_held() -> None:
    decision = decide(SPEC, status(), UNREADY, NOW)
    assert decision.status.phase is P.PROGRESSING
    assert decision.actions == ()  # one replica of the candidate: nothing to re-template
    assert decision.status.message == "canary not ready (0/1): analysis held"
    assert decision.status.canary_not_ready_since == NOW


def test_a_canary_re_templated_after_the_shadow_phase_keeps_its_baseline() -> None:
    """Shadow passed: the canary keeps scoring the pinned stable beside the candidate (the
    canary paired gates) but is no shadow pod any more."""
    shadowed = spec(shadow={"enabled": True})
    passed = ShadowResult(canary_version="8", verdict=Verdict.PASSED)
    old = readings(canary=workload("models:/credit-default/6", 1, ready=0))
    decision = decide(shadowed, status(shadow=passed), old, NOW)
    assert decision.actions == (EnsureCanary(CANDIDATE_URI, 1, STABLE_URI, False),)


def analysis_tag_of(decision: Decision) -> TagVersion:
    (tag,) = [a for a in decision.actions if isinstance(a, TagVersion)]
    return tag


def test_a_passed_analysis_names_the_next_step_and_tags_the_version_best_effort() -> None:
    decision = decide(SPEC, status(), readings(), NOW)
    assert decision.status.message == "analysis passed at 5%; step 2/4: weight 10%"
    tag = analysis_tag_of(decision)
    assert (tag.model_name, tag.version, tag.best_effort) == (NAME, "8", True)
    assert list(tag.tags) == ["rollout.analysis.001"]


def test_a_failed_check_warns_with_the_status_message() -> None:
    decision = decide(SPEC, status(), readings(metrics=metrics(errorRatio=0.05)), NOW)
    assert decision.status.message.startswith("failed check 1/3: ")
    assert decision.events == (EmitEvent("AnalysisFailed", decision.status.message, "Warning"),)


def test_prometheus_down_warns_with_the_reason_it_gave() -> None:
    down = readings(metrics=metrics(online=False))
    decision = decide(SPEC, status(), down, NOW)
    assert decision.events == (EmitEvent("PrometheusUnreachable", "connection refused", "Warning"),)


def test_an_inconclusive_analysis_with_prometheus_up_ends_an_unreachable_streak() -> None:
    few = readings(metrics=metrics(requests=3))
    decision = decide(SPEC, status(unreachable_count=2, inconclusive_count=2), few, NOW)
    assert decision.status.phase is P.PROGRESSING
    assert (decision.status.unreachable_count, decision.status.inconclusive_count) == (0, 3)
    assert decision.events == ()
