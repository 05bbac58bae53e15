"""One analysis judged (``controller.rollout.analysis``): each gate at its bounds, the order
of judgement, and the exact messages users read in the status and Events."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from controller.rollout.analysis import _describe, evaluate, judge
from controller.rollout.readings import MetricReadings
from controller.status import AnalysisRecord, Phase, Verdict
from tests.unit.controller.factories import NOW, metrics, spec, status
from tests.unit.controller.test_shadow import paired

pytestmark = pytest.mark.unit

CUSTOM = {
    "minRequests": 100,
    "custom": [{"name": "approvalRate", "query": "vector(1)", "min": 0.3, "max": 0.9}],
}


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (None, "NoData"),
        (0.29, "Failed"),
        (0.3, "Passed"),  # bounds are inclusive
        (0.9, "Passed"),
        (0.91, "Failed"),
    ],
)
def test_a_gate_is_judged_against_inclusive_bounds(value: float | None, verdict: str) -> None:
    gate = judge("approvalRate", value, 0.3, 0.9)
    assert gate.verdict == verdict
    assert (gate.name, gate.value, gate.min, gate.max) == ("approvalRate", value, 0.3, 0.9)


def test_an_open_bound_never_fails() -> None:
    assert judge("errorRatio", -5.0, None, 0.01).verdict == "Passed"
    assert judge("positiveRate", 1e9, 0.1, None).verdict == "Passed"
    assert judge("anything", 0.0, None, None).verdict == "Passed"


def _analysis(
    requests: float | None = 500, online: bool = True, **gates: float | None
) -> AnalysisRecord:
    s = spec(analysis=CUSTOM)
    current = status(Phase.PROGRESSING, step=1, canary_weight=20)
    return evaluate(s, current, metrics(requests, online, **gates), NOW)


def test_all_gates_passing_is_a_pass_with_every_figure_kept() -> None:
    record = _analysis(approvalRate=0.5)
    assert (record.verdict, record.reason) == (Verdict.PASSED, "GatesPassed")
    assert record.message == "all 6 gates passed"
    assert (record.step, record.weight, record.canary_version) == (1, 20, "8")
    assert record.requests == 500
    assert record.time == NOW
    assert {g.name for g in record.gates} >= {"errorRatio", "approvalRate"}


def test_failed_gates_are_named_with_value_and_bound() -> None:
    record = _analysis(errorRatio=0.2, approvalRate=0.1)
    assert (record.verdict, record.reason) == (Verdict.FAILED, "GateFailed")
    assert record.message == "errorRatio 0.2 > max 0.01; approvalRate 0.1 < min 0.3"


def test_a_zero_below_its_minimum_is_described_as_zero() -> None:
    assert _analysis(approvalRate=0.0).message == "approvalRate 0 < min 0.3"


def _custom(low: float | None, high: float | None, value: float) -> AnalysisRecord:
    gate = {"name": "margin", "query": "vector(1)", "min": low, "max": high}
    s = spec(analysis={"minRequests": 100, "custom": [gate]})
    current = status(Phase.PROGRESSING, step=1, canary_weight=20)
    return evaluate(s, current, metrics(500, True, margin=value), NOW)


def test_a_value_below_a_zero_minimum_names_the_zero() -> None:
    assert _custom(0.0, None, -0.5).message == "margin -0.5 < min 0"
    assert _custom(0.0, 1.0, -0.5).message == "margin -0.5 < min 0"


def test_a_contradictory_gate_says_which_bound_the_value_broke() -> None:
    # min above max: refused by the spec and the CRD, so only the pure message function
    # sees it here; every value fails, each named by the bound it breaks
    def message(value: float) -> str:
        return _describe(judge("margin", value, 0.5, 0.2))

    assert message(0.2) == "margin 0.2 < min 0.5"  # at max, below min
    assert message(0.3) == "margin 0.3 > max 0.2"
    assert message(0.1) == "margin 0.1 < min 0.5"
    with pytest.raises(ValidationError, match="min must not exceed max"):
        _custom(0.5, 0.2, 0.3)


def test_too_few_requests_is_inconclusive_even_with_a_failing_gate() -> None:
    record = _analysis(requests=99, errorRatio=0.5)
    assert (record.verdict, record.reason) == (Verdict.INCONCLUSIVE, "TooFewRequests")
    assert record.message == "99 canary requests < minRequests 100"
    assert _analysis(requests=100, approvalRate=0.5).verdict is Verdict.PASSED  # the floor


def test_no_request_count_at_all_is_inconclusive() -> None:
    record = _analysis(requests=None)
    assert record.reason == "TooFewRequests"
    assert record.message == "no canary requests < minRequests 100"


def test_a_gate_without_data_is_inconclusive_unless_another_failed() -> None:
    record = _analysis(approvalRate=None, scorePSI=None)
    assert (record.verdict, record.reason) == (Verdict.INCONCLUSIVE, "NoData")
    assert record.message == "no data for scorePSI, approvalRate"
    assert _analysis(approvalRate=None, errorRatio=0.5).reason == "GateFailed"


def test_prometheus_down_is_inconclusive_with_its_error_and_no_gates() -> None:
    record = _analysis(online=False)
    assert (record.verdict, record.reason) == (Verdict.INCONCLUSIVE, "PrometheusUnreachable")
    assert record.message == "connection refused"
    assert record.gates == []


def test_nothing_measured_counts_as_unreachable() -> None:
    record = evaluate(spec(analysis=CUSTOM), status(Phase.PROGRESSING), None, NOW)
    assert record.reason == "PrometheusUnreachable"
    assert record.message == "no metrics were gathered"
    bare = MetricReadings(online=False)
    assert evaluate(spec(), status(Phase.PROGRESSING), bare, NOW).message == (
        "Prometheus unreachable"
    )


def test_an_unreachable_prometheus_shows_no_paired_figures() -> None:
    rollout = spec(shadow={"enabled": True}, analysis={"minRequests": 100})
    current = status(Phase.PROGRESSING, step=1, canary_weight=20)
    record = evaluate(rollout, current, metrics(online=False), NOW, paired(same=900, flipped=100))
    assert (record.verdict, record.reason) == (Verdict.INCONCLUSIVE, "PrometheusUnreachable")
    assert record.gates == []
    assert record.paired is None  # figures of a window the analysis did not judge
