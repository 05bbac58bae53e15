"""Scenarios that end in a rollback: (b) 5xx fault injection, (c) drifted traffic,
(f) the ``abort`` annotation, (h) a canary that never gets ready."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller import ACTION_ANNOTATION
from services.core.synthetic import Drift
from tests.e2e.checks import CANARY, assert_rolled_back, route_of
from tests.e2e.harness.models import register_broken
from tests.e2e.harness.operator import OperatorProcess
from tests.e2e.harness.scenario import Scenario
from tests.e2e.harness.waits import wait_for

pytestmark = pytest.mark.system
STEPS = {"steps": [20, 40, 60]}


def _gate(status: dict[str, object], name: str) -> dict[str, object]:
    record = status["lastAnalysis"]
    assert isinstance(record, dict)
    return next(g for g in record["gates"] if g["name"] == name)


def test_b_fault_injected_candidate_is_rolled_back_before_50_percent(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    load = s.start_load()
    s.apply_rollout(canary=STEPS)
    wait_for(lambda: s.deployment(CANARY), 60, "canary Deployment created", describe=s.describe)
    s.set_env(CANARY, {"INFERENCE_FAULT_ERROR_RATE": "0.3"})  # chaos: kubectl set env
    s.wait_phase("Failed", "Succeeded", timeout=120)
    stats = load.stop()

    status = assert_rolled_back(s, "FailedChecks")
    assert _gate(status, "errorRatio")["verdict"] == "Failed"
    assert s.recorder.max_canary_route_weight() < 50, s.recorder.steps()
    assert "Promoting" not in s.recorder.phases()
    assert {f.track for f in stats.failures} == {"canary"}, stats.reasons()
    back = s.recorder.first(lambda x: x.phase in ("RollingBack", "Failed"))
    assert back is not None
    late = [f for f in stats.failures if f.at > back.at + 1.0]
    assert late == [], "no failed request once traffic is back on stable"


def test_c_drifted_traffic_is_rolled_back_on_psi(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    load = s.start_load(drift=[Drift("income", shift=-0.3)])
    s.apply_rollout(canary=STEPS)
    s.wait_phase("Failed", "Succeeded", timeout=120)
    stats = load.stop()

    status = assert_rolled_back(s, "FailedChecks")
    gate = _gate(status, "featurePSI")
    assert gate["verdict"] == "Failed", gate
    assert float(str(gate["value"])) > 0.2, gate
    assert "Promoting" not in s.recorder.phases()
    assert stats.failures == [], stats.reasons()


def test_f_abort_annotation_rolls_back_at_once(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    load = s.start_load()
    s.apply_rollout(canary={**STEPS, "interval": "10s"})
    s.wait_status(lambda st: st.get("phase") == "Progressing", 120, "canary taking traffic")
    wait_for(lambda: route_of(s).get(CANARY) == 20, 10, "canary weight 20 on the route")
    s.annotate("abort")
    wait_for(  # a deadline, not a timing: well inside the 10 s analysis interval
        lambda: route_of(s).get(CANARY) is None, 5, "the abort to take the canary off the route"
    )
    s.wait_phase("Failed", timeout=30)
    stats = load.stop()

    status = assert_rolled_back(s, "Aborted")
    assert status.get("analysisCount", 0) <= 1, "no analysis awaited before rolling back"
    annotations = s.rollout()["metadata"].get("annotations") or {}
    assert ACTION_ANNOTATION not in annotations, "the handled action is cleared"
    assert stats.failures == [], stats.reasons()


def test_h_canary_never_ready_hits_the_progress_deadline(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    broken = register_broken(s.models)
    load = s.start_load()
    s.apply_rollout(s.models.uri(broken), canary={**STEPS, "progressDeadline": "20s"})
    s.wait_phase("Failed", "Succeeded", timeout=120)
    stats = load.stop()

    status = s.status()
    assert status["canaryVersion"] == broken
    promoted = s.condition("Promoted")
    assert promoted is not None
    assert promoted["reason"] == "ProgressDeadlineExceeded", promoted
    assert "RolledBack" in s.event_reasons()
    assert route_of(s) == {"inference": 100}
    assert s.recorder.max_canary_route_weight() == 0, "a never-ready canary gets no traffic"
    assert s.models.champion() == s.models.stable
    assert stats.failures == [], stats.reasons()
