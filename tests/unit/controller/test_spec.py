"""Spec models: SPEC §7 defaults, validation, durations, and agreement with the CRD."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from controller.durations import format_duration, parse_duration, promql_duration
from controller.spec import RolloutSpec
from controller.status import Phase
from tests.unit.controller.factories import spec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((ROOT / "k8s" / "crd" / "modelrollouts.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def test_defaults_are_those_of_spec_section_7() -> None:
    rollout = spec()
    assert rollout.canary.weights() == [5, 10, 25, 50]
    assert (rollout.canary.interval, rollout.canary.progress_deadline) == (60.0, 600.0)
    assert rollout.canary.failure_threshold == 3
    assert rollout.analysis.min_requests == 200
    assert rollout.analysis.thresholds() == {
        "errorRatio": (None, 0.01),
        "latencyP99": (None, 0.25),
        "featurePSI": (None, 0.2),
        "scorePSI": (None, 0.2),
        "positiveRateShift": (None, 0.05),
    }
    assert (rollout.autoscaling.min_replicas, rollout.autoscaling.max_replicas) == (2, 10)
    assert rollout.autoscaling.target_cpu_utilization == 70
    assert rollout.http_route == "inference"
    assert rollout.prometheus.address == "http://prometheus.monitoring:9090"
    assert rollout.window == 60.0
    assert rollout.paused is False


def test_step_weight_and_max_weight() -> None:
    assert spec(canary={"stepWeight": 10, "maxWeight": 30}).canary.weights() == [10, 20, 30]
    assert spec(canary={"stepWeight": 20}).canary.weights() == [20, 40]  # maxWeight 50


@pytest.mark.parametrize(
    "overrides",
    [
        {"model": {"uri": "s3://bucket/model"}},
        {"canary": {"steps": [10, 5]}},
        {"canary": {"steps": [10, 10]}},
        {"canary": {"steps": [0, 50]}},
        {"canary": {"steps": [5], "stepWeight": 5}},
        {"canary": {"interval": "soon"}},
        {"canary": {"interval": "0s"}},
        {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}},
        {"router": {"httpRoute": {"name": "a"}, "ingress": {"name": "b"}}},
        {"analysis": {"custom": [{"name": "x", "query": "up"}]}},
        {"analysis": {"custom": [{"name": "x", "query": "up", "min": 2, "max": 1}]}},
        {"analysis": {"custom": [{"name": "errorRatio", "query": "up", "max": 1}]}},
        {"analysis": {"custom": [{"name": "x", "query": "up{ {{ nope }} }", "max": 1}]}},
        {"analysis": {"custom": [{"name": "x", "query": "up", "max": 1}] * 2}},
        # names of objects the controller writes are derived, never taken from the spec
        {"router": {"httpRoute": {"name": "r", "canaryService": "payments"}}},
    ],
)
def test_invalid_specs_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**overrides)


@pytest.mark.parametrize(
    ("text", "seconds", "back"),
    [
        ("250ms", 0.25, "250ms"),
        ("30s", 30, "30s"),
        ("1m", 60, "1m"),
        ("1h30m", 5400, "90m"),
        ("1.5s", 1.5, "1500ms"),
        (2, 2, "2s"),
    ],
)
def test_durations(text: Any, seconds: float, back: str) -> None:
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == back


def test_promql_durations() -> None:
    assert promql_duration(60) == "60s"
    assert promql_duration(1.5) == "1500ms"


def _defaulted(schema: dict[str, Any], value: Any) -> Any:
    """Apply CRD structural defaults the way the API server does (objects only)."""
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    out = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = sub["default"]
        if key in out:
            out[key] = _defaulted(sub, out[key])
    return out


def test_crd_defaults_agree_with_the_controllers() -> None:
    minimal = {"targetRef": {"name": "inference"}, "model": {"uri": "models:/m@challenger"}}
    from_crd = RolloutSpec.model_validate(_defaulted(SCHEMA, minimal))
    assert from_crd == RolloutSpec.model_validate(minimal)


def test_the_example_manifest_is_a_valid_spec() -> None:
    example = yaml.safe_load((ROOT / "k8s" / "examples" / "modelrollout.yaml").read_text())
    rollout = RolloutSpec.model_validate(example["spec"])
    assert rollout.model.ref.alias == "challenger"
    assert [g.name for g in rollout.analysis.custom] == ["rateLimited"]
    assert rollout.prometheus.selector == {"namespace": "credit-risk"}


def test_the_canary_service_name_is_derived() -> None:
    parsed = spec(router={"httpRoute": {"name": "r", "canaryService": "inference-canary"}})
    assert parsed.canary_service == parsed.canary_name == "inference-canary"


def test_the_crd_accepts_every_phase_the_controller_writes() -> None:
    status = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert set(status["properties"]["phase"]["enum"]) == {p.value for p in Phase}
