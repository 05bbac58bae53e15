"""The shadow phase's pure parts (``controller.rollout.shadow``): the before-traffic stage,
when the paired figures are read, and the paired gates."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from controller.rollout.actions import EmitEvent, SetMirror
from controller.rollout.checkpoints import BEFORE_TRAFFIC
from controller.rollout.paired import gate
from controller.rollout.readings import PairedReadings
from controller.rollout.shadow import judge, shadow_due, shadow_stage, shadow_window
from controller.rollout.transitions import Tick
from controller.spec import ShadowSpec
from controller.status import Phase, ShadowResult, Verdict
from tests.unit.controller.factories import NOW, ago, readings, spec, status
from tests.unit.controller.test_paired import buckets, decisions

pytestmark = pytest.mark.unit

SHADOW = spec(shadow={"enabled": True})
RECORD = ShadowResult(canary_version="8", baseline_version="7", started_at=ago(600))


def paired(same: float = 1000, flipped: float = 0, **overrides: Any) -> PairedReadings:
    values: dict[str, Any] = {
        "decisions": decisions(same, flipped),
        "diff_sum": 0.01 * (same + flipped),
        "diff_count": same + flipped,
        "candidate_buckets": buckets(100, 300, 600, 1000),
        "baseline_buckets": buckets(100, 300, 600, 1000),
    }
    values.update(overrides)
    return PairedReadings(**values)


def test_shadow_is_the_first_before_traffic_stage() -> None:
    assert BEFORE_TRAFFIC[0] is shadow_stage


def test_defaults() -> None:
    shadow = spec().shadow
    assert shadow.enabled is False
    assert (shadow.percent, shadow.min_requests) == (100, 500)
    assert (shadow.duration, shadow.timeout, shadow.confidence) == (300.0, 1800.0, 0.95)
    assert shadow.gates.enabled() == {"flipRate": 0.02, "scoreDiff": 0.05, "scorePSI": 0.1}
    off = ShadowSpec.model_validate({"gates": {"scorePSI": {"enabled": False}}})
    assert off.gates.enabled() == {"flipRate": 0.02, "scoreDiff": 0.05}


def _tick(rollout: Any = SHADOW, **overrides: Any) -> Tick:
    return Tick(rollout, status(Phase.INITIALIZING, **overrides), readings(), NOW)


def test_stage_passes_when_shadow_is_off() -> None:
    assert shadow_stage(_tick(spec())) is None


def test_stage_enters_shadowing_with_the_mirror_on() -> None:
    rollout = spec(shadow={"enabled": True, "percent": 25})
    decision = shadow_stage(_tick(rollout))
    assert decision is not None
    assert decision.status.phase is Phase.SHADOWING
    assert decision.status.canary_weight == 0
    assert decision.effects == (SetMirror(25),)
    assert [e.reason for e in decision.events] == ["ShadowStarted"]
    assert decision.status.shadow == ShadowResult(
        canary_version="8", baseline_version="7", started_at=NOW
    )
    assert "25% of live requests mirrored" in decision.status.message


def test_stage_passes_once_this_candidate_passed() -> None:
    passed = RECORD.model_copy(update={"verdict": Verdict.PASSED})
    assert shadow_stage(_tick(shadow=passed)) is None
    for other in (
        passed.model_copy(update={"canary_version": "6"}),  # an earlier candidate's pass
        RECORD.model_copy(update={"verdict": Verdict.FAILED}),
        RECORD,  # running
    ):
        decision = shadow_stage(_tick(shadow=other))
        assert decision is not None
        assert decision.status.phase is Phase.SHADOWING


def test_stage_rolls_back_without_a_registry_stable_version() -> None:
    decision = shadow_stage(_tick(stable_version=None))
    assert decision is not None
    assert decision.status.phase is Phase.ROLLING_BACK
    assert decision.events[-1].reason == "ShadowImpossible"
    assert SetMirror(0) in decision.effects


@pytest.mark.parametrize(
    ("phase", "started", "checked", "due"),
    [
        (Phase.SHADOWING, 299, None, False),  # duration not yet over
        (Phase.SHADOWING, 300, None, True),
        (Phase.SHADOWING, 600, 30, False),  # read 30 s ago: once per interval
        (Phase.SHADOWING, 600, 60, True),
        (Phase.PROGRESSING, 600, None, False),
        (Phase.PAUSED, 600, None, False),
    ],
)
def test_shadow_due(phase: Phase, started: float, checked: float | None, due: bool) -> None:
    record = ShadowResult(
        canary_version="8",
        started_at=ago(started),
        checked_at=ago(checked) if checked is not None else None,
    )
    assert shadow_due(SHADOW, status(phase, shadow=record), NOW) is due


def test_shadow_due_needs_a_started_record() -> None:
    assert not shadow_due(SHADOW, status(Phase.SHADOWING), NOW)
    assert not shadow_due(SHADOW, status(Phase.SHADOWING, shadow=ShadowResult()), NOW)


def test_shadow_window_is_the_phase_so_far() -> None:
    assert shadow_window(status(Phase.SHADOWING, shadow=RECORD), NOW) == 600
    assert shadow_window(status(Phase.SHADOWING, shadow=ShadowResult(started_at=NOW)), NOW) == 1
    assert shadow_window(status(Phase.SHADOWING), NOW) == 1


@pytest.mark.parametrize(
    ("value", "limit", "verdict"),
    [
        (0.01, 0.02, "Passed"),
        (0.02, 0.02, "Passed"),
        (0.021, 0.02, "Failed"),
        (None, 0.02, "NoData"),
    ],
)
def test_gate(value: float | None, limit: float, verdict: str) -> None:
    result = gate("flipRate", value, limit)
    assert (result.value, result.max, result.verdict) == (value, limit, verdict)


def _judge(readings: PairedReadings, **shadow: Any) -> ShadowResult:
    rollout = spec(shadow={"enabled": True, **shadow})
    return judge(rollout.shadow, readings, RECORD, NOW)


def test_judge_passes_a_candidate_that_agrees() -> None:
    result = _judge(paired(1000, 0))
    assert (result.verdict, result.reason) == (Verdict.PASSED, "GatesPassed")
    assert result.checked_at == NOW
    assert result.finished_at is None
    assert (result.pairs, result.flips, result.flip_rate) == (1000, 0, 0)
    assert result.flip_rate_upper == pytest.approx(0.00383, abs=1e-5)
    assert result.mean_abs_diff == pytest.approx(0.01)
    assert result.score_psi == pytest.approx(0)
    assert [(g.name, g.verdict) for g in result.gates] == [
        ("flipRate", "Passed"),
        ("scoreDiff", "Passed"),
        ("scorePSI", "Passed"),
    ]


@pytest.mark.parametrize(
    ("same", "flipped", "verdict", "gate_verdict"),
    [
        (1000, 0, Verdict.PASSED, "Passed"),  # interval (0, 0.0038)
        (2985, 15, Verdict.PASSED, "Passed"),  # 0.5 %: (0.003, 0.0082)
        (985, 15, Verdict.INCONCLUSIVE, "Undecided"),  # 1.5 %: (0.0091, 0.0246) straddles
        (960, 40, Verdict.FAILED, "Failed"),  # 4 %: (0.0295, 0.0541), shown worse
        (900, 100, Verdict.FAILED, "Failed"),
    ],
)
def test_judge_the_flip_rate_by_its_confidence_interval(
    same: float, flipped: float, verdict: Verdict, gate_verdict: str
) -> None:
    result = _judge(paired(same, flipped))
    assert result.verdict is verdict
    flip = result.gates[0]
    assert (flip.name, flip.verdict, flip.max) == ("flipRate", gate_verdict, 0.02)
    assert flip.value == result.flip_rate_upper
    assert result.flip_rate_lower is not None
    assert result.flip_rate_lower <= flipped / (same + flipped) <= result.flip_rate_upper


def test_an_undecided_flip_rate_holds_and_says_why() -> None:
    """15 flips in 1,000: raw 1.5 % is under 0.02, its 95 % upper bound (2.5 %) is not,
    nor is the lower bound (0.9 %) above it: more pairs decide."""
    result = _judge(paired(985, 15))
    assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, "Undecided")
    assert result.flip_rate == pytest.approx(0.015)
    assert result.message == "flipRate bound 0.0246 > 0.02, not shown worse"
    assert _judge(paired(985, 15), gates={"flipRate": {"max": 0.03}}).verdict is Verdict.PASSED
    assert _judge(paired(2955, 45)).verdict is Verdict.INCONCLUSIVE  # still 1.5 %
    assert _judge(paired(9850, 150)).verdict is Verdict.PASSED  # upper 0.0176


def test_a_failed_gate_wins_over_an_undecided_flip_rate() -> None:
    result = _judge(paired(985, 15, diff_sum=100.0))
    assert (result.verdict, result.reason) == (Verdict.FAILED, "GateFailed")
    assert result.message == "scoreDiff 0.1 > 0.05"


def test_judge_fails_on_score_difference_and_psi() -> None:
    shifted = paired(diff_sum=80.0, candidate_buckets=buckets(10, 50, 300, 1000))
    result = _judge(shifted)
    assert result.verdict is Verdict.FAILED
    assert [g.name for g in result.gates if g.verdict == "Failed"] == ["scoreDiff", "scorePSI"]
    assert "scoreDiff 0.08 > 0.05" in result.message


def test_judge_holds_with_too_few_pairs() -> None:
    result = _judge(paired(499, 0))
    assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, "TooFewPairs")
    assert result.message == "499 of 500 paired decisions"
    assert result.pairs == 499
    assert result.gates == []
    assert _judge(paired(499, 0), minRequests=400).verdict is Verdict.PASSED


def test_judge_holds_without_data_for_a_gate() -> None:
    result = _judge(paired(candidate_buckets=()))
    assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, "NoData")
    assert result.message == "no data for scorePSI"
    off = _judge(paired(candidate_buckets=()), gates={"scorePSI": {"enabled": False}})
    assert off.verdict is Verdict.PASSED


def test_judge_a_failed_gate_wins_over_missing_data() -> None:
    assert _judge(paired(900, 100, candidate_buckets=())).verdict is Verdict.FAILED


def test_judge_holds_when_prometheus_is_unreachable() -> None:
    result = _judge(PairedReadings.unreachable("connection refused"))
    assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, "PrometheusUnreachable")
    assert result.message == "connection refused"
    assert result.checked_at == NOW


def test_judge_keeps_query_errors_in_the_message() -> None:
    result = _judge(paired(error="pairedBands: bad query"))
    assert result.verdict is Verdict.PASSED
    assert result.message.endswith("(pairedBands: bad query)")


def test_shadow_spec_validation() -> None:
    with pytest.raises(ValueError, match="timeout"):
        spec(shadow={"duration": "10m", "timeout": "5m"})
    with pytest.raises(ValueError, match=r"percent must be 100 with router\.ingress"):
        spec(shadow={"enabled": True, "percent": 99}, router={"ingress": {"name": "inference"}})
    assert (
        spec(shadow={"enabled": False}, router={"ingress": {"name": "i"}}).shadow.enabled is False
    )
    for bad in ({"percent": 0}, {"percent": 101}, {"minRequests": 0}, {"confidence": 1}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            spec(shadow=bad)


def test_events_of_the_stage_are_normal() -> None:
    decision = shadow_stage(_tick())
    assert decision is not None
    assert decision.events == (EmitEvent("ShadowStarted", decision.status.message),)
