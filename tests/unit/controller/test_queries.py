"""PromQL built for each gate (checked against a real Prometheus in the integration tier)."""

from __future__ import annotations

import pytest

from controller.queries import Scope, build_queries, paired_queries, render, scope_for
from tests.unit.controller.factories import spec

pytestmark = pytest.mark.unit

SCOPE = Scope("credit-default", "8", 60.0, {"namespace": "credit-risk"}, "credit-risk")
CANARY = 'namespace="credit-risk",model_name="credit-default",track="canary",model_version="8"'
ROUTES = 'route=~"/api/v1/predict|/api/v1/predict/bulk"'


def test_request_count_is_canary_scoring_requests_in_the_window() -> None:
    queries = build_queries(spec(), SCOPE)
    assert queries.requests == f"sum(increase(http_requests_total{{{CANARY},{ROUTES}}}[60s]))"


def test_every_builtin_gate_has_its_query() -> None:
    gates = build_queries(spec(), SCOPE).gates
    assert set(gates) == {"errorRatio", "latencyP99", "featurePSI", "scorePSI", "positiveRateShift"}
    assert 'status=~"5.."' in gates["errorRatio"]
    assert " or vector(0)) / sum(increase(" in gates["errorRatio"]
    assert gates["latencyP99"].startswith("histogram_quantile(0.99, sum by (le) (rate(")
    assert "http_request_duration_seconds_bucket" in gates["latencyP99"]
    assert gates["featurePSI"] == f"max(last_over_time(inference_feature_psi{{{CANARY}}}[60s]))"
    assert gates["scorePSI"] == f"max(last_over_time(inference_score_psi{{{CANARY}}}[60s]))"
    shift = gates["positiveRateShift"]
    assert shift.startswith("clamp_min(abs(")
    assert " - 2.576 * sqrt(" in shift
    assert 'track="stable"' in shift
    assert 'outcome="default"' in shift


def test_disabled_gates_are_not_queried_and_custom_ones_are_rendered() -> None:
    custom = {"name": "rl", "query": "sum(increase(x{ {{ canary }} }[{{window}}]))", "max": 1}
    rollout = spec(analysis={"gates": {"scorePSI": {"enabled": False}}, "custom": [custom]})
    gates = build_queries(rollout, scope_for(rollout, "credit-default", "8", "credit-risk")).gates
    assert "scorePSI" not in gates
    assert gates["rl"] == (
        'sum(increase(x{ model_name="credit-default",track="canary",model_version="8" }[60s]))'
    )


def test_window_and_selector_come_from_the_spec() -> None:
    rollout = spec(analysis={"window": "1500ms"}, prometheus={"selector": {"job": "inference"}})
    scope = scope_for(rollout, "m", "3", "ns")
    assert scope.range == "1500ms"
    assert scope.canary.startswith('job="inference",')


def test_label_values_are_escaped() -> None:
    scope = Scope('we"ird\\name', "1", 60.0)
    assert 'model_name="we\\"ird\\\\name"' in scope.canary
    assert render("{{ model_name }}/{{namespace}}", Scope("m", "1", 60.0, namespace="ns")) == "m/ns"


def test_psi_gates_count_only_pods_with_enough_rows_in_their_window() -> None:
    rollout = spec(analysis={"minDriftSamples": 250})
    gates = build_queries(rollout, scope_for(rollout, "credit-default", "8", "credit-risk")).gates
    sel = 'model_name="credit-default",track="canary",model_version="8"'
    samples = f"last_over_time(inference_drift_samples{{{sel}}}[60s]) >= 250"
    assert gates["featurePSI"] == (
        f"max((last_over_time(inference_feature_psi{{{sel}}}[60s])"
        f" and ignoring(feature) ({samples})))"
    )
    assert gates["scorePSI"] == (
        f"max((last_over_time(inference_score_psi{{{sel}}}[60s]) and ({samples})))"
    )


def test_psi_gates_default_to_200_rows_and_zero_turns_the_filter_off() -> None:
    default = build_queries(spec(), scope_for(spec(), "m", "8", "ns")).gates
    assert ">= 200))" in default["scorePSI"]
    off = spec(analysis={"minDriftSamples": 0})
    gates = build_queries(off, scope_for(off, "m", "8", "ns")).gates
    assert "inference_drift_samples" not in gates["featurePSI"]
    assert "inference_drift_samples" not in gates["scorePSI"]


def test_paired_queries_read_the_canary_pods_comparing_with_the_baseline() -> None:
    scope = Scope("credit-default", "8", 600.0, {"namespace": "credit-risk"}, "credit-risk")
    queries = paired_queries(scope, "7")
    paired = f'{CANARY},baseline_version="7"'
    assert queries.decisions == (
        "sum by (baseline_outcome, outcome) "
        f"(increase(inference_paired_decisions_total{{{paired}}}[600s]))"
    )
    assert queries.bands == (
        "sum by (baseline_band, band) "
        f"(increase(inference_paired_band_migrations_total{{{paired}}}[600s]))"
    )
    assert queries.diff_sum == (
        f"sum(increase(inference_paired_score_abs_diff_sum{{{paired}}}[600s]))"
    )
    assert queries.diff_count == (
        f"sum(increase(inference_paired_score_abs_diff_count{{{paired}}}[600s]))"
    )
    # the candidate's own score histogram (its pods see only mirrored applicants) against
    # the baseline's on the same applicants
    assert queries.candidate_buckets == (
        f"sum by (le) (increase(inference_score_bucket{{{CANARY}}}[600s]))"
    )
    assert queries.baseline_buckets == (
        f"sum by (le) (increase(inference_baseline_score_bucket{{{paired}}}[600s]))"
    )
