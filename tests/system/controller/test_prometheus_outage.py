"""Prometheus unreachable from before the first analysis: no decision on missing data.

Prometheus is stopped before the ModelRollout is applied, so every analysis at the first
step finds it down. The documented behaviour (``docs/controller.md``): an analysis with
Prometheus unreachable is *inconclusive* — the weight is held, never advanced, never
promoted — and after ``analysis.maxUnreachable`` such analyses in a row (CRD default 3)
the rollout is rolled back with reason ``PrometheusUnreachable``. Both halves are proven:

- with the CRD default, an outage that lasts rolls the candidate back after exactly three
  inconclusive analyses at the first step;
- with a larger ``maxUnreachable``, an outage of several intervals is held at the first
  step, and when Prometheus is back the analysis resumes and the candidate is promoted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.checks import CANARY, assert_promoted, assert_rolled_back
from tests.e2e.harness import manifests
from tests.e2e.harness.manifests import NAME
from tests.e2e.harness.operator import OperatorProcess
from tests.e2e.harness.prometheus import PrometheusServer
from tests.e2e.harness.scenario import ROLLOUT, Scenario
from tests.e2e.harness.waits import wait_for

pytestmark = pytest.mark.system
STEPS = {"steps": [20, 40]}
FIRST = 20
DOWN = ("Inconclusive", "PrometheusUnreachable", 0, FIRST)  # verdict, reason, step, weight


@pytest.fixture
def prometheus_back(prometheus: PrometheusServer) -> Iterator[PrometheusServer]:
    """The module's Prometheus, running again after the test whatever happened."""
    yield prometheus
    prometheus.start()


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def at(record: dict[str, Any]) -> float:
    return stamp(record["time"])


def shape(record: dict[str, Any]) -> tuple[str, str, int, int]:
    return record["verdict"], record["reason"], record["step"], record["weight"]


def assert_held_on_missing_data(status: dict[str, Any]) -> None:
    """Progressing at the first step, the last analysis inconclusive for a plain reason."""
    assert status["phase"] == "Progressing", status
    assert (status["step"], status["canaryWeight"]) == (0, FIRST), status
    assert status["failedChecks"] == 0, status
    last = status["lastAnalysis"]
    assert shape(last) == DOWN, last
    assert last["gates"] == [], "no gate judged without data"
    assert "Prometheus" in last["message"], last
    assert f"inconclusive (PrometheusUnreachable) at {FIRST}%" in status["message"], status


def timeline(s: Scenario, **marks: float) -> str:
    """Analyses, marks and Events with times relative to the first analysis (for ``-rP``)."""
    history = s.status().get("history") or []
    start = at(history[0]) if history else time.time()
    rows = [(at(r), f"analysis {shape(r)} {r['message'][:70]}") for r in history]
    rows += [(t, name) for name, t in marks.items()]
    routed = s.recorder.first(lambda x: x.route.get("canary", 0) > 0)
    if routed is not None:
        rows.append((routed.at, f"canary on the route at {routed.route['canary']}%"))
    lines = [f"{t - start:+7.1f}s {what}" for t, what in sorted(rows)]
    return "\n".join([*lines, f"events: {s.event_reasons()}"])


def unreachable_events(s: Scenario) -> list[dict[str, Any]]:
    return [e for e in s.events() if e["reason"] == "PrometheusUnreachable"]


def test_prometheus_down_from_the_start_rolls_back_after_the_crd_default_limit(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
    prometheus_back: PrometheusServer,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    load = s.start_load()
    prometheus_back.stop()
    body = manifests.model_rollout(
        s.namespace, ROLLOUT, s.models.candidate_uri, prometheus_back.url, canary=STEPS
    )
    del body["spec"]["analysis"]["maxUnreachable"]  # left to the CRD default
    s.cluster.cp.apply(body, namespace=s.namespace)
    assert s.rollout()["spec"]["analysis"]["maxUnreachable"] == 3, "CRD default"

    first = s.wait_status(lambda st: st.get("unreachableCount") == 1, 150, "first analysis")
    assert_held_on_missing_data(first)
    s.wait_phase("Failed", "Succeeded", timeout=90)
    stats = load.stop()

    status = assert_rolled_back(s, "PrometheusUnreachable")
    print(timeline(s, failed=stamp(status["phaseSince"])))  # shown with -rP
    history = status["history"]
    assert [shape(r) for r in history] == [DOWN] * 3, history
    assert status["unreachableCount"] == 3
    rolled = s.condition("Promoted")
    assert rolled is not None
    assert "Prometheus unreachable for 3 analyses in a row" in rolled["message"], rolled
    assert [w for _, w in s.recorder.steps() if w] == [FIRST], s.recorder.steps()
    assert s.recorder.max_canary_route_weight() == FIRST
    assert not {"Promoting", "Succeeded"} & set(s.recorder.phases()), s.recorder.phases()
    events = unreachable_events(s)
    assert len(events) == 3, events  # two held analyses, then the rollback itself
    assert {e["type"] for e in events} == {"Warning"}
    reasons = s.event_reasons()
    assert reasons.index("PrometheusUnreachable") < reasons.index("RolledBack"), reasons
    assert stats.failures == [], stats.reasons()


def test_prometheus_down_for_several_intervals_holds_then_analysis_resumes_and_promotes(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
    prometheus_back: PrometheusServer,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    load = s.start_load()
    prometheus_back.stop()
    s.apply_rollout(canary=STEPS, analysis={"maxUnreachable": 20, "historyLimit": 50})

    held = s.wait_status(
        lambda st: st.get("unreachableCount", 0) >= 4, 150, "four analyses, Prometheus down"
    )
    assert_held_on_missing_data(held)
    back_at = time.time()
    prometheus_back.start()
    s.wait_phase("Succeeded", "Failed", timeout=240)
    s.wait_ready(NAME, 1, timeout=60)
    wait_for(lambda: s.deployment(CANARY) is None, 30, "canary removed", describe=s.describe)
    stats = load.stop()

    assert_promoted(s)
    print(timeline(s, prometheus_back=back_at, succeeded=stamp(s.status()["phaseSince"])))
    history = s.status()["history"]
    down = [r for r in history if r["reason"] == "PrometheusUnreachable"]
    assert len(down) >= 4, history
    assert {shape(r) for r in down} == {DOWN}, down
    assert history[: len(down)] == down, "the outage came first, then nothing unreachable"
    later = history[len(down) :]
    passed = [(r["step"], r["weight"]) for r in later if r["verdict"] == "Passed"]
    assert passed == [(0, FIRST), (1, 40)], later
    # The first windows after the outage are small, and a PSI gate can fail on sampling
    # noise (docs/drift.md; below failureThreshold, the candidate was still promoted).
    # What must never happen is a verdict from missing data: every Failed analysis names a
    # gate that was judged on a value.
    for record in (r for r in later if r["verdict"] == "Failed"):
        judged = [g for g in record["gates"] if g["verdict"] == "Failed"]
        assert judged, record
        assert all(g.get("value") is not None for g in judged), record
    assert all(at(r) >= at(down[-1]) for r in later)
    before = [x.route.get("canary", 0) for x in s.recorder.samples if x.at < back_at]
    assert max(before) == FIRST, "no weight beyond the first step while Prometheus was down"
    assert [w for _, w in s.recorder.steps() if w] == [FIRST, 40], s.recorder.steps()
    events = unreachable_events(s)
    assert len(events) == len(down), events  # one Warning per inconclusive analysis
    assert {e["type"] for e in events} == {"Warning"}
    reasons = s.event_reasons()
    assert reasons.count("Promoted") == 1, reasons
    assert stats.failures == [], stats.reasons()
