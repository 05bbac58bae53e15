"""Paired gates at canary analyses (``shadow.canaryGates``): the canary's own applicants,
scored by the candidate and the stable version, can fail an analysis but never hold one."""

from __future__ import annotations

from typing import Any

import pytest

from controller.rollout import decide
from controller.rollout.analysis import evaluate
from controller.rollout.progress import canary_paired_due
from controller.rollout.readings import PairedReadings
from controller.status import AnalysisRecord, Phase, ShadowResult, Verdict
from tests.unit.controller.factories import NOW, ago, metrics, readings, spec, status
from tests.unit.controller.test_paired import buckets
from tests.unit.controller.test_shadow import paired

pytestmark = pytest.mark.unit

SHADOW = {"enabled": True}
# past a passed shadow phase: the canary pods score the stable version beside it
PASSED = ShadowResult(canary_version="8", baseline_version="7", verdict=Verdict.PASSED)
PROGRESSING = status(Phase.PROGRESSING, step=1, canary_weight=20, shadow=PASSED)


def _analysis(found: PairedReadings | None, **shadow: Any) -> AnalysisRecord:
    rollout = spec(shadow={**SHADOW, **shadow}, analysis={"minRequests": 100})
    return evaluate(rollout, PROGRESSING, metrics(), NOW, found)


def _paired_gates(record: AnalysisRecord) -> dict[str, str]:
    return {g.name: g.verdict for g in record.gates if g.name.startswith("paired")}


def test_a_clean_canary_passes_every_paired_gate_and_keeps_its_figures() -> None:
    record = _analysis(paired(same=1000, flipped=0))
    assert (record.verdict, record.reason) == (Verdict.PASSED, "GatesPassed")
    assert _paired_gates(record) == {"pairedFlipRate": "Passed", "pairedScoreDiff": "Passed"}
    assert record.paired is not None
    assert (record.paired.pairs, record.paired.flips) == (1000, 0)
    assert record.paired.flip_rate_upper == pytest.approx(0.00383, abs=1e-5)


def test_flips_shown_above_the_limit_fail_the_analysis() -> None:
    record = _analysis(paired(same=900, flipped=100))  # 10 %, interval far above 2 %
    assert (record.verdict, record.reason) == (Verdict.FAILED, "GateFailed")
    assert _paired_gates(record)["pairedFlipRate"] == "Failed"
    assert record.message.startswith("pairedFlipRate 0.1")
    assert "> max 0.02" in record.message


def test_an_undecided_flip_rate_never_holds_the_analysis() -> None:
    record = _analysis(paired(same=196, flipped=4))  # 2 %: the interval straddles the limit
    assert _paired_gates(record)["pairedFlipRate"] == "Undecided"
    assert record.verdict is Verdict.PASSED


def test_too_few_pairs_are_shown_but_not_judged() -> None:
    record = _analysis(paired(same=40, flipped=40))  # 80 pairs < minRequests 100
    assert record.verdict is Verdict.PASSED
    assert _paired_gates(record) == {}
    assert record.paired is not None
    assert record.paired.flips == 40


@pytest.mark.parametrize(("same", "judged"), [(49, False), (50, True), (51, True)])
def test_paired_gates_are_judged_from_exactly_min_requests_pairs(same: int, judged: bool) -> None:
    record = _analysis(paired(same=same, flipped=50))  # minRequests 100: the floor counts
    assert record.paired is not None
    assert record.paired.pairs == same + 50
    assert bool(_paired_gates(record)) is judged
    assert record.verdict is (Verdict.FAILED if judged else Verdict.PASSED)


def test_a_missing_paired_figure_never_holds_the_analysis() -> None:
    record = _analysis(paired(diff_sum=None, diff_count=None))
    assert _paired_gates(record)["pairedScoreDiff"] == "NoData"
    assert record.verdict is Verdict.PASSED


def test_the_paired_score_psi_is_shown_not_judged_at_a_canary_step() -> None:
    shifted = paired(candidate_buckets=buckets(10, 20, 30, 1000))  # PSI far above 0.1
    record = _analysis(shifted)
    assert record.paired is not None
    assert record.paired.score_psi is not None
    assert record.paired.score_psi > 1
    assert "pairedScorePSI" not in _paired_gates(record)
    assert record.verdict is Verdict.PASSED


@pytest.mark.parametrize(
    ("found", "shadow"),
    [
        (None, {}),  # not read
        (PairedReadings.unreachable(), {}),
        (paired(same=900, flipped=100), {"canaryGates": False}),
        (paired(same=900, flipped=100), {"enabled": False}),
    ],
)
def test_no_paired_gate_without_figures_or_when_switched_off(
    found: PairedReadings | None, shadow: dict[str, Any]
) -> None:
    record = _analysis(found, **shadow)
    assert record.verdict is Verdict.PASSED
    assert _paired_gates(record) == {}
    assert record.paired is None


def test_paired_counters_are_read_with_each_analysis_only_when_the_pods_pair() -> None:
    due = status(Phase.PROGRESSING, last_analysis_time=ago(60))
    rollout = spec(shadow=SHADOW)
    assert canary_paired_due(rollout, due, NOW)
    assert not canary_paired_due(rollout, status(Phase.PROGRESSING, last_analysis_time=NOW), NOW)
    assert not canary_paired_due(spec(), due, NOW)  # shadow off: the pods score no baseline
    off = spec(shadow={**SHADOW, "canaryGates": False})
    assert not canary_paired_due(off, due, NOW)
    assert not canary_paired_due(rollout, due.model_copy(update={"stable_version": None}), NOW)
    assert not canary_paired_due(rollout, status(Phase.SHADOWING), NOW)


def test_a_flipping_canary_counts_a_failed_check_through_decide() -> None:
    rollout = spec(shadow=SHADOW, canary={"failureThreshold": 2})
    decision = decide(rollout, PROGRESSING, readings(paired=paired(900, 100)), NOW)
    assert decision.status.failed_checks == 1
    assert decision.status.phase is Phase.PROGRESSING
    last = decision.status.last_analysis
    assert last is not None
    assert last.verdict is Verdict.FAILED
    assert last.paired is not None
    assert last.paired.bands == {}
    assert [e.reason for e in decision.events] == ["AnalysisFailed"]
