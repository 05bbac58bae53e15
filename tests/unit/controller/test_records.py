"""The decision record on the MLflow model version (``controller.rollout.records``): exact
tag names and values, bounded sizes, and the same tags when a tick is repeated."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from controller.rollout.records import MAX_TAG_VALUE, analysis_tag, compact, verdict_tags
from controller.rollout.transitions import Tick
from controller.status import AnalysisRecord, GateResult, Phase, Verdict
from tests.unit.controller.factories import NOW, readings, spec, status

pytestmark = pytest.mark.unit


def record(**overrides: object) -> AnalysisRecord:
    values: dict[str, object] = {
        "time": NOW.replace(microsecond=123456),
        "step": 2,
        "weight": 25,
        "canary_version": "8",
        "verdict": Verdict.FAILED,
        "reason": "GateFailed",
        "requests": 480.0,
        "gates": [
            GateResult(name="errorRatio", value=0.2, max=0.01, verdict="Failed"),
            GateResult(name="latencyP99", value=None, verdict="NoData"),
        ],
        "message": "errorRatio 0.2 > 0.01",
    }
    values.update(overrides)
    return AnalysisRecord.model_validate(values)


def test_an_analysis_is_compact_json_with_every_figure() -> None:
    text = compact(record())
    assert " " not in text.replace("GateFailed", "")  # compact separators
    assert json.loads(text) == {
        "time": "2026-03-01T12:00:00+00:00",  # to the second
        "step": 2,
        "weight": 25,
        "verdict": "Failed",
        "reason": "GateFailed",
        "requests": 480.0,
        "gates": {"errorRatio": [0.2, "Failed"], "latencyP99": [None, "NoData"]},
    }


def test_a_huge_analysis_is_cut_to_the_tag_bound() -> None:
    many = [GateResult(name=f"custom-{i:04d}", value=i, verdict="Passed") for i in range(400)]
    text = compact(record(gates=many))
    assert len(text) == MAX_TAG_VALUE
    assert MAX_TAG_VALUE < 5000  # MLflow's limit on a tag value
    assert len(compact(record())) < MAX_TAG_VALUE


def test_analysis_tags_are_numbered_to_sort() -> None:
    assert analysis_tag(record(), 7) == {"rollout.analysis.007": compact(record())}
    assert list(analysis_tag(record(), 123)) == ["rollout.analysis.123"]


def _tick(**status_overrides: object) -> Tick:
    current = status(Phase.ROLLING_BACK, **status_overrides)
    return Tick(spec(), current, readings(), NOW)


def test_verdict_tags_name_the_verdict_and_its_figures() -> None:
    tick = _tick(failed_checks=3, analysis_count=5, last_analysis=record())
    at = NOW - timedelta(seconds=90)
    tags = verdict_tags(tick, "rolled-back", "GateFailed", "errorRatio too high", at)
    assert tags == {
        "rollout.verdict": "rolled-back",
        "rollout.reason": "GateFailed",
        "rollout.message": "errorRatio too high",
        "rollout.time": at.isoformat(timespec="seconds"),
        "rollout.stable_version": "7",
        "rollout.failed_checks": "3",
        "rollout.analyses": "5",
        "rollout.last_analysis": compact(record()),
    }


def test_verdict_time_defaults_to_the_tick_and_repeats_exactly() -> None:
    tick = _tick()
    first = verdict_tags(tick, "promoted", "GatesPassed", "ok")
    assert first["rollout.time"] == "2026-03-01T12:00:00+00:00"
    assert "rollout.last_analysis" not in first  # no analysis yet
    assert verdict_tags(tick, "promoted", "GatesPassed", "ok") == first


def test_a_long_message_is_cut_to_the_tag_bound() -> None:
    tags = verdict_tags(_tick(), "rejected", "IncompatibleContract", "x" * 10_000)
    assert tags["rollout.message"] == "x" * MAX_TAG_VALUE


def test_the_shadow_result_is_a_tag_and_part_of_the_verdict() -> None:
    from controller.rollout.records import shadow_tag
    from controller.status import ShadowResult

    result = ShadowResult(
        canary_version="8",
        baseline_version="7",
        verdict=Verdict.FAILED,
        reason="GateFailed",
        pairs=1000,
        flips=60,
        flip_rate=0.06,
        flip_rate_lower=0.047,
        flip_rate_upper=0.076,
        mean_abs_diff=0.04,
        score_psi=0.2,
        bands={"A": {"B": 60}},
        gates=[GateResult(name="flipRate", value=0.076, max=0.02, verdict="Failed")],
    )
    data = json.loads(shadow_tag(result)["rollout.shadow"])
    assert data == {
        "verdict": "Failed",
        "reason": "GateFailed",
        "baseline": "7",
        "pairs": 1000,
        "flips": 60,
        "flip_rate": 0.06,
        "flip_rate_lower": 0.047,
        "flip_rate_upper": 0.076,
        "mean_abs_diff": 0.04,
        "score_psi": 0.2,
        "gates": {"flipRate": [0.076, "Failed"]},
        "bands": {"A": {"B": 60}},
    }
    tick = Tick(spec(), status(Phase.ROLLING_BACK, shadow=result), readings(), NOW)
    tags = verdict_tags(tick, "rolled_back", "ShadowFailed", "flips")
    assert tags["rollout.shadow"] == shadow_tag(result)["rollout.shadow"]
    running = result.model_copy(update={"verdict": None})
    tick = Tick(spec(), status(Phase.ROLLING_BACK, shadow=running), readings(), NOW)
    assert "rollout.shadow" not in verdict_tags(tick, "rolled_back", "Aborted", "")
    many = {str(i): {str(j): 1.0 for j in range(40)} for i in range(40)}
    big = result.model_copy(update={"bands": many})
    assert len(shadow_tag(big)["rollout.shadow"]) == MAX_TAG_VALUE
