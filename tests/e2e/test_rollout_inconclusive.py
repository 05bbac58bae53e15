"""Scenarios without usable metrics: (e) Prometheus stopped mid-analysis, (g) no traffic.
Missing data is never a pass: the first rolls back after the limit, the second holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.checks import assert_rolled_back
from tests.e2e.harness.operator import OperatorProcess
from tests.e2e.harness.prometheus import PrometheusServer
from tests.e2e.harness.scenario import Scenario

pytestmark = pytest.mark.system
STEPS = {"steps": [20, 40, 60]}


@pytest.fixture
def restart_prometheus(prometheus: PrometheusServer) -> Iterator[PrometheusServer]:
    """The module's Prometheus, running again after the test whatever happened."""
    yield prometheus
    prometheus.start()


def test_e_prometheus_down_mid_analysis_is_inconclusive_then_rolled_back(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
    restart_prometheus: PrometheusServer,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    load = s.start_load()
    s.apply_rollout(canary=STEPS, analysis={"maxUnreachable": 3})
    s.wait_status(lambda st: st.get("step") == 1, 120, "one analysis passed (step 2)")
    restart_prometheus.stop()
    s.wait_phase("Failed", "Succeeded", timeout=90)
    stats = load.stop()

    status = assert_rolled_back(s, "PrometheusUnreachable")
    down = [r for r in status["history"] if r["reason"] == "PrometheusUnreachable"]
    assert len(down) == 3, down
    assert {r["verdict"] for r in down} == {"Inconclusive"}, down
    assert [r["step"] for r in down] == [1, 1, 1], "no step advanced on missing data"
    assert not {"Promoting", "Succeeded"} & set(s.recorder.phases())
    assert "PrometheusUnreachable" in s.event_reasons()
    assert stats.failures == [], stats.reasons()


def test_g_no_traffic_stays_inconclusive_and_never_promotes(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    s.apply_rollout(canary={"steps": [20, 40]})
    s.wait_status(lambda st: st.get("analysisCount", 0) >= 4, 120, "four analyses")
    time.sleep(1)  # not a wait: a moment more in which nothing may be promoted
    status = s.status()

    assert status["phase"] == "Progressing", s.describe()
    assert (status["step"], status["canaryWeight"]) == (0, 20)
    assert status["failedChecks"] == 0
    assert status["inconclusiveCount"] >= 4
    verdicts = {(r["verdict"], r["reason"]) for r in status["history"]}
    assert {v for v, _ in verdicts} == {"Inconclusive"}, verdicts
    assert {r for _, r in verdicts} <= {"TooFewRequests", "NoData"}, verdicts
    assert set(s.recorder.phases()) <= {"Pending", "Initializing", "Progressing"}
    assert s.models.champion() == s.models.stable
    s.annotate("abort")  # leave nothing running
    s.wait_phase("Failed", timeout=30)
