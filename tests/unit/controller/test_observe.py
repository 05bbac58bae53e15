"""Pure parts of the adapters: Deployment/HPA readings, Events, status round trip, CLI."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from controller.__main__ import parse, settings_from
from controller.events import event
from controller.observe import stable_hpa, workload
from controller.rollout.transitions import PROMOTED, with_condition
from controller.status import RolloutStatus
from tests.unit.controller.factories import NOW, ago, status

pytestmark = pytest.mark.unit


def deployment(generation: int = 2, observed: int = 2, **status: int) -> dict[str, Any]:
    env = [{"name": "MODEL_URI", "value": "models:/m/3"}]
    return {
        "metadata": {"name": "inference", "generation": generation},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "env": env}]}}},
        "status": {"observedGeneration": observed, **status},
    }


def test_workload_reading_from_a_deployment() -> None:
    reading = workload(deployment(readyReplicas=3, updatedReplicas=3), None)
    assert (reading.replicas, reading.ready, reading.updated) == (3, 3, 3)
    assert reading.model_uri == "models:/m/3"
    assert reading.serves("models:/m/3")
    assert not workload(deployment(observed=1, readyReplicas=3, updatedReplicas=3), None).rolled_out
    assert not workload(None, None).exists


def test_old_ready_pods_do_not_count_as_rolled_out() -> None:
    """Mid rolling update with surge: 3 ready (one of the old template), 3 updated, 4 pods."""
    surge = workload(deployment(replicas=4, readyReplicas=3, updatedReplicas=3), None)
    assert not surge.rolled_out
    done = workload(deployment(replicas=3, readyReplicas=3, updatedReplicas=3), None)
    assert done.rolled_out


class StubKube:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls: list[str] = []

    def list(self, res: Any, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        self.calls.append("list")
        return self.items

    def get(self, res: Any, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(f"get {name}")
        return next((i for i in self.items if i["metadata"]["name"] == name), None)


def hpa(name: str, target: str, min_replicas: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": target},
            "minReplicas": min_replicas,
            "maxReplicas": 10,
        },
    }


def test_the_stable_hpa_is_read_by_name_once_known() -> None:
    """Named like the Deployment: one GET. Named otherwise: a LIST once, then GETs of the
    name found. Renamed or retargeted: listed again. None: the cache forgets it."""
    names: dict[tuple[str, str], str] = {}
    same = StubKube([hpa("x", "x"), hpa("inference", "inference", 3)])
    found = stable_hpa(same, "ns", "inference", names)  # type: ignore[arg-type]
    assert found is not None
    assert found.min_replicas == 3
    assert same.calls == ["get inference"]

    other = StubKube([hpa("x", "x"), hpa("inf-hpa", "inference", 4)])
    names.clear()
    assert stable_hpa(other, "ns", "inference", names).name == "inf-hpa"  # type: ignore
    assert other.calls == ["get inference", "list"]
    assert names == {("ns", "inference"): "inf-hpa"}
    other.calls.clear()
    assert stable_hpa(other, "ns", "inference", names).min_replicas == 4  # type: ignore
    assert other.calls == ["get inf-hpa"]

    moved = StubKube([hpa("inf-hpa", "x"), hpa("new-hpa", "inference", 5)])
    assert stable_hpa(moved, "ns", "inference", names).name == "new-hpa"  # type: ignore
    assert moved.calls == ["get inf-hpa", "get inference", "list"]
    assert stable_hpa(StubKube([]), "ns", "inference", names) is None  # type: ignore
    assert names == {}


def test_the_stable_hpa_is_found_by_its_scale_target() -> None:
    other = {
        "metadata": {"name": "x"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "x"},
            "minReplicas": 1,
            "maxReplicas": 3,
        },
    }
    mine = {
        "metadata": {
            "name": "inf-hpa",
            "annotations": {"mlops.creditrisk.io/original-min-replicas": "2"},
        },
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "inference"},
            "minReplicas": 6,
            "maxReplicas": 10,
        },
    }
    found = stable_hpa(StubKube([other, mine]), "ns", "inference")  # type: ignore[arg-type]
    assert found is not None
    assert (found.name, found.min_replicas, found.max_replicas, found.held_from) == (
        "inf-hpa",
        6,
        10,
        2,
    )
    assert stable_hpa(StubKube([other]), "ns", "inference") is None  # type: ignore[arg-type]


def test_event_body() -> None:
    rollout = {"metadata": {"name": "r", "namespace": "ns", "uid": "u", "resourceVersion": "5"}}
    body = event(rollout, "Warning", "RolledBack", "x" * 2000, NOW)
    assert body["involvedObject"]["kind"] == "ModelRollout"
    assert body["metadata"]["generateName"] == "r."
    assert (body["type"], body["reason"], len(body["message"])) == ("Warning", "RolledBack", 1024)
    assert body["firstTimestamp"] == "2026-03-01T12:00:00Z"


def test_status_round_trips_through_its_kubernetes_form() -> None:
    original = status(history=[], last_analysis_time=ago(5))
    again = RolloutStatus.from_k8s(original.to_k8s())
    assert again.to_k8s() == original.to_k8s()
    assert original.to_k8s()["lastAnalysisTime"] == "2026-03-01T11:59:55.000Z"
    assert RolloutStatus.from_k8s(None).phase == "Pending"
    assert RolloutStatus.from_k8s({"phase": "Failed", "kopf": {"x": 1}}).phase == "Failed"


def test_condition_transition_time_moves_only_on_change() -> None:
    base = status()
    same = with_condition(base, PROMOTED, "False", "Progressing", "again", NOW)
    assert same.condition(PROMOTED).last_transition_time == ago(3600)  # type: ignore[union-attr]
    flipped = with_condition(base, PROMOTED, "True", "Promoted", "", NOW)
    assert flipped.condition(PROMOTED).last_transition_time == NOW  # type: ignore[union-attr]


def test_cli_flags_become_settings() -> None:
    settings = settings_from(parse(["-n", "a", "-n", "b", "--tick", "2", "--kubeconfig", "k"]))
    assert (settings.namespaces, settings.tick_seconds, settings.kubeconfig) == (["a", "b"], 2, "k")
    assert settings_from(parse(["-A"])).namespaces == []


def test_python_dash_m_controller_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controller", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "ModelRollout operator" in done.stdout


def test_workload_reading_has_the_baseline_env() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "BASELINE_MODEL_URI", "value": "models:/m/2"}
    )
    assert workload(obj, None).baseline_uri == "models:/m/2"
    assert workload(deployment(), None).baseline_uri is None


@pytest.mark.parametrize(
    ("env", "shadow"),
    [
        ([], False),
        ([{"name": "INFERENCE_SHADOW", "value": "true"}], True),
        ([{"name": "SHADOW", "value": "1"}], True),
        ([{"name": "INFERENCE_SHADOW", "value": "false"}], False),
    ],
)
def test_workload_reading_has_the_shadow_flag(env: list[dict[str, str]], shadow: bool) -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["env"].extend(env)
    assert workload(obj, None).shadow is shadow


def test_contracts_are_due_next_when_a_decision_enters_initializing() -> None:
    """A new attempt (Pending -> Initializing): its next tick checks the contract, so its
    contracts are loaded ahead (``warm_contracts``); not again while Initializing holds."""
    from controller.observe import contracts_next
    from controller.rollout import decide
    from controller.status import Phase
    from tests.unit.controller.factories import readings, spec

    pending = status(Phase.PENDING)
    decision = decide(spec(), pending, readings(), NOW)
    assert decision.status.phase is Phase.INITIALIZING
    assert contracts_next(pending, decision.status)
    held = status(Phase.INITIALIZING)
    assert not contracts_next(held, decide(spec(), held, readings(contract=None), NOW).status)
    assert not contracts_next(status(Phase.PROGRESSING), status(Phase.PROGRESSING))
    nameless = status(Phase.INITIALIZING, canary_version=None)
    assert not contracts_next(pending, nameless)
