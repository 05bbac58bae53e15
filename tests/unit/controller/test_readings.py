"""The observed-state values the decision function reads (``controller.rollout.readings``):
every condition of "rolled out" and "serving", at its boundary."""

from __future__ import annotations

import dataclasses

import pytest

from controller.rollout.readings import ContractCheck, MetricReadings, WorkloadReading

pytestmark = pytest.mark.unit

URI = "models:/credit-default/8"
DONE = WorkloadReading(
    exists=True, replicas=3, ready=3, updated=3, total=3, observed=True, model_uri=URI
)


def with_(**changes: object) -> WorkloadReading:
    return dataclasses.replace(DONE, **changes)  # type: ignore[arg-type]


def test_a_workload_is_rolled_out_only_when_every_condition_holds() -> None:
    assert DONE.rolled_out
    assert with_(total=None).rolled_out  # no ReplicaSet count reported: nothing old known
    assert with_(updated=4, ready=4, total=4).rolled_out  # more than desired is fine


@pytest.mark.parametrize(
    "changes",
    [
        {"exists": False},
        {"observed": False},
        {"replicas": 0, "ready": 0, "updated": 0, "total": 0},
        {"updated": 2},
        {"ready": 2},
        {"total": 4},  # an old pod is left beside three new ones
    ],
    ids=["missing", "unobserved", "zero-replicas", "not-updated", "not-ready", "old-pod-left"],
)
def test_any_missing_condition_means_not_rolled_out(changes: dict[str, object]) -> None:
    assert not with_(**changes).rolled_out
    assert not with_(**changes).serves(URI)


def test_serves_needs_the_uri_and_a_full_rollout() -> None:
    assert DONE.serves(URI)
    assert not DONE.serves("models:/credit-default/7")


def test_serving_needs_one_ready_replica_of_the_current_template_on_the_uri() -> None:
    one = with_(ready=1, updated=1)
    assert one.serving(URI)
    assert not one.rolled_out
    assert not with_(ready=0).serving(URI)
    assert not with_(exists=False).serving(URI)
    assert not with_(observed=False).serving(URI)
    assert not DONE.serving("models:/credit-default/7")
    assert not WorkloadReading().serving(URI)


def test_a_contract_is_compatible_only_without_issues() -> None:
    assert ContractCheck().compatible
    assert not ContractCheck(("feature balance missing",)).compatible


def test_unreachable_prometheus_is_offline_with_its_error() -> None:
    down = MetricReadings.unreachable()
    assert not down.online
    assert down.error == "Prometheus unreachable"
    assert down.requests is None
    assert dict(down.gates) == {}
    assert MetricReadings.unreachable("timeout").error == "timeout"
    assert MetricReadings().online
