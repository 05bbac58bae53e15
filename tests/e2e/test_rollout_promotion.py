"""Scenarios that end in a promotion: (a) healthy candidate, (d) operator killed at step 2
and restarted, (i) the stable HPA floor holds capacity through the rolling update."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import pytest

from tests.e2e.checks import CANARY, assert_promoted, assert_rolled_out_when_promoted
from tests.e2e.harness.manifests import NAME
from tests.e2e.harness.operator import OperatorProcess
from tests.e2e.harness.scenario import Scenario
from tests.e2e.harness.waits import wait_for

pytestmark = pytest.mark.system


def _finish_promotion(s: Scenario, replicas: int) -> None:
    s.wait_phase("Succeeded", "Failed", timeout=150)
    s.wait_ready(NAME, replicas, timeout=60)
    wait_for(
        lambda: s.deployment(CANARY) is None, 30, "canary Deployment removed", describe=s.describe
    )


def test_a_healthy_candidate_is_promoted_without_a_failed_request(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=2, hpa=(2, 4))
    load = s.start_load()
    s.apply_rollout(canary={"steps": [25, 50]})
    _finish_promotion(s, 2)
    time.sleep(2)  # traffic on the promoted pods only
    stats = load.stop()

    assert_promoted(s)
    assert_rolled_out_when_promoted(s)
    assert [w for _, w in s.recorder.steps() if w] == [25, 50], s.recorder.steps()
    assert s.recorder.max_canary_route_weight() == 50
    assert stats.failures == [], stats.reasons()
    assert stats.counts()["canary"].ok > 0
    reasons = s.event_reasons()
    assert reasons.index("Progressing") < reasons.index("Advanced") < reasons.index("Promoted")
    assert s.models.tags(s.models.candidate)["rollout.verdict"] == "promoted"


def test_d_operator_killed_at_step_2_resumes_at_step_2(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 3))
    load = s.start_load()
    s.apply_rollout(canary={"steps": [20, 40, 60]})
    s.wait_status(
        lambda st: st.get("step") == 1 and st.get("phase") == "Progressing",
        timeout=120,
        what="step 2 (weight 40)",
    )
    operator.kill()
    killed = time.time()
    time.sleep(8)  # more than one analysis interval without an operator
    assert s.status()["step"] == 1, "nothing moves while the operator is down"
    operator.start()
    _finish_promotion(s, 1)
    stats = load.stop()

    assert_promoted(s)
    assert_rolled_out_when_promoted(s)
    assert operator.starts >= 2
    assert [w for _, w in s.recorder.steps() if w] == [20, 40, 60], s.recorder.steps()
    assert s.event_reasons().count("Advanced") == 2, "no step repeated or skipped"
    after = [
        r
        for r in s.status().get("history", [])
        if datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() > killed
    ]
    assert after, "analyses after the restart"
    assert (after[0]["step"], after[0]["weight"]) == (1, 40), after[0]
    steps = [r["step"] for r in s.status().get("history", [])]
    assert steps == sorted(steps), steps
    assert stats.failures == [], stats.reasons()


def test_i_stable_hpa_floor_holds_total_replicas_during_promotion(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
) -> None:
    s = make_scenario(replicas=2, hpa=(2, 6))
    load = s.start_load()
    s.apply_rollout(canary={"steps": [50]}, autoscaling={"minReplicas": 4, "maxReplicas": 6})
    before = s.wait_status(
        lambda st: st.get("phase") == "Promoting", timeout=120, what="promotion started"
    )
    total = 4  # 2 stable + 2 canary (autoscaling.minReplicas 4 at 50 %)
    held = before["promotion"]
    assert (held["originalMin"], held["heldMin"]) == (2, total), held
    _finish_promotion(s, total)
    stats = load.stop()

    assert_promoted(s)
    assert_rolled_out_when_promoted(s)
    promoting = [x for x in s.recorder.samples if x.phase == "Promoting"]
    assert promoting, "the timeline saw the promotion"
    rolling = [x for x in promoting if min(x.updated.get(NAME, 0), x.ready.get(NAME, 0)) < 4]
    assert rolling, "the timeline saw the rolling update"
    assert {x.hpa_min.get(NAME) for x in rolling} == {4}, "floor held until the update is done"
    capacity = [x.ready.get(NAME, 0) + x.ready.get(CANARY, 0) for x in promoting]
    assert min(capacity) >= total, f"serving pods dropped below {total}: {capacity}"
    hpa = s.recorder.sample().hpa_min
    assert hpa[NAME] == 2, "floor given back after the rolling update"
    d = s.deployment(NAME)
    assert d is not None
    assert d["status"]["readyReplicas"] == total, "promoted model at full size"
    assert stats.failures == [], stats.reasons()
