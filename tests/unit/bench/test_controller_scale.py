"""The scale benchmark's pure parts: the synthetic exposition and the figures it reports."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.controller.counting import (
    analysis_lateness,
    call_key,
    percentile,
    rollback_reaction,
    verdicts,
)
from bench.controller.exposition import (
    FAILING_ERROR_SHARE,
    HEALTHY_ERROR_SHARE,
    Page,
    Rates,
    Rollout,
    plan,
    shards,
)
from services.core import telemetry as t

pytestmark = pytest.mark.unit


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def requests(found: list[tuple[str, dict[str, str], float]], track: str, status: str) -> float:
    return sum(
        v
        for name, labels, v in found
        if name == t.total(t.HTTP_REQUESTS)
        and labels["track"] == track
        and labels[t.STATUS_LABEL] == status
    )


def test_page_is_valid_exposition_with_every_pod_and_family() -> None:
    page = Page.build([Rollout("a"), Rollout("b", failing=True)], Rates(pods=2))
    found = samples(page.render(10.0))
    assert len(found) == page.size == 2 * 4 * 25
    pods = {labels["pod"] for _, labels, _ in found}
    assert pods == {
        f"{app}-{track}-{i}" for app in "ab" for track in ("stable", "canary") for i in (0, 1)
    }
    names = {name for name, _, _ in found}
    assert {
        t.total(t.HTTP_REQUESTS),
        t.bucket(t.HTTP_DURATION),
        t.total(t.PREDICTIONS),
        t.FEATURE_PSI,
        t.SCORE_PSI,
        t.DRIFT_SAMPLES,
    } <= names
    assert {labels["model_version"] for _, labels, _ in found if labels["track"] == "canary"} == {
        "2"
    }


def test_counters_grow_at_a_steady_rate_and_gauges_stay() -> None:
    page = Page.build([Rollout("a")], Rates(canary_rps=10.0, pods=1))
    early, late = samples(page.render(100.0)), samples(page.render(110.0))
    grown = requests(late, "canary", "200") + requests(late, "canary", "500")
    grown -= requests(early, "canary", "200") + requests(early, "canary", "500")
    assert grown == pytest.approx(100.0, abs=0.01)
    psi = [v for name, _, v in late if name == t.SCORE_PSI]
    assert psi == [v for name, _, v in early if name == t.SCORE_PSI]


@pytest.mark.parametrize(
    ("failing", "share"), [(False, HEALTHY_ERROR_SHARE), (True, FAILING_ERROR_SHARE)]
)
def test_only_a_failing_canary_has_a_high_error_ratio(failing: bool, share: float) -> None:
    found = samples(Page.build([Rollout("a", failing)], Rates()).render(1000.0))
    for track, expected in (("canary", share), ("stable", HEALTHY_ERROR_SHARE)):
        errors = requests(found, track, "500")
        assert errors / (errors + requests(found, track, "200")) == pytest.approx(expected)


def test_latency_buckets_are_cumulative_and_end_at_the_count() -> None:
    found = samples(Page.build([Rollout("a")], Rates(pods=1)).render(50.0))
    pod = "a-canary-0"
    buckets = [
        (float(labels["le"]), v)
        for name, labels, v in found
        if name == t.bucket(t.HTTP_DURATION) and labels["pod"] == pod
    ]
    values = [v for _, v in sorted(buckets)]
    assert values == sorted(values)
    count = next(
        v
        for name, labels, v in found
        if name == f"{t.HTTP_DURATION}_count" and labels["pod"] == pod
    )
    assert values[-1] == pytest.approx(count)


def test_plan_spreads_the_failing_share_and_shards_cover_all() -> None:
    rollouts = plan(250, 0.2)
    assert sum(r.failing for r in rollouts) == 50
    assert len({r.app for r in rollouts}) == 250
    assert all(any(r.failing for r in shard) for shard in shards(rollouts, 25))
    assert [len(s) for s in shards(rollouts[:60], 25)] == [25, 25, 10]
    assert not any(r.failing for r in plan(10, 0.0))
    with pytest.raises(ValueError, match="failing_share"):
        plan(10, 1.5)


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("GET", "/apis/apps/v1/namespaces/ns/deployments/w1", "GET deployments/{name}"),
        (
            "GET",
            "/apis/autoscaling/v2/namespaces/ns/horizontalpodautoscalers",
            "GET horizontalpodautoscalers",
        ),
        (
            "PATCH",
            "/apis/mlops.creditrisk.io/v1alpha1/namespaces/ns/modelrollouts/m/status",
            "PATCH modelrollouts/{name}/status",
        ),
        ("POST", "/api/v1/namespaces/ns/events", "POST events"),
    ],
)
def test_call_key_drops_names(method: str, path: str, key: str) -> None:
    assert call_key(method, path) == key


def test_percentile() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([0.0, 10.0], 0.99) == pytest.approx(9.9)


def test_verdicts_sort_wrong_and_unfinished() -> None:
    failing = {"a": False, "b": True, "c": False, "d": True, "e": False}
    phases = {"a": "Succeeded", "b": "Failed", "c": "Failed", "d": "Succeeded", "e": "Progressing"}
    assert verdicts(failing, phases) == {
        "right": ["a", "b"],
        "wrong": ["c", "d"],
        "unfinished": ["e"],
    }


def test_analysis_lateness_and_rollback_reaction() -> None:
    history = [
        {"time": "2026-12-04T12:00:00.000Z"},
        {"time": "2026-12-04T12:00:23.500Z"},
        {"time": "2026-12-04T12:00:12.000Z"},
    ]
    assert analysis_lateness(history, 10.0) == pytest.approx([2.0, 1.5])
    assert analysis_lateness(history[:1], 10.0) == []
    status = {
        "phase": "Failed",
        "phaseSince": "2026-12-04T12:00:26.000Z",
        "lastAnalysis": {"time": "2026-12-04T12:00:23.500Z"},
    }
    assert rollback_reaction(status) == pytest.approx(2.5)
    assert rollback_reaction({**status, "phase": "Succeeded"}) is None


def test_breakdown_has_one_column_per_n() -> None:
    from bench.controller.bench_scale import breakdown

    rows = [
        {
            "rollouts": n,
            "api_calls_per_reconcile": {"GET deployments/{name}": 2.0 * n},
            "reconcile_p99_ms_by_phase": {"Progressing": {"n": n, "p50": 1.0, "p99": 2.0}},
        }
        for n in (50, 250)
    ]
    text = breakdown(rows)
    assert "| request | N=50 | N=250 |" in text
    assert "| GET deployments/{name} | 100.0 | 500.0 |" in text
    assert "| Progressing | 50 / 1.0 / 2.0 | 250 / 1.0 / 2.0 |" in text


def test_rollouts_take_the_candidate_versions_in_turn() -> None:
    from bench.controller.exposition import plan

    found = plan(5, 0.2, ["2", "3"])
    assert [r.canary_version for r in found] == ["2", "3", "2", "3", "2"]
    assert [r.canary_version for r in plan(2, 0.0)] == [None, None]
    page = Page.build([Rollout("a", canary_version="9")], Rates(pods=1))
    assert 'model_version="9"' in page.render(10.0)
