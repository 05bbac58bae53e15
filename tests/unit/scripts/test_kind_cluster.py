"""The kind scenarios' readings of kubectl and Prometheus JSON (tests/kind/cluster.py)."""

from __future__ import annotations

import pytest

from tests.kind.cluster import (
    containers_without_cpu_request,
    failed_targets,
    hpa_condition,
    hpa_cpu_utilization,
)

pytestmark = pytest.mark.unit

UNKNOWN = {
    "status": {
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {}}}],
        "conditions": [
            {
                "type": "ScalingActive",
                "status": "False",
                "reason": "FailedGetResourceMetric",
                "message": "missing request for cpu",
            }
        ],
    }
}


def test_hpa_cpu_read() -> None:
    hpa = {
        "status": {
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "memory", "current": {"averageUtilization": 40}},
                },
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 7}},
                },
            ]
        }
    }
    assert hpa_cpu_utilization(hpa) == 7


@pytest.mark.parametrize("hpa", [{}, {"status": {}}, {"status": {"currentMetrics": None}}, UNKNOWN])
def test_hpa_cpu_unknown(hpa: dict[str, object]) -> None:
    assert hpa_cpu_utilization(hpa) is None


def test_hpa_condition() -> None:
    assert hpa_condition(UNKNOWN, "ScalingActive") == (
        "False",
        "FailedGetResourceMetric",
        "missing request for cpu",
    )
    assert hpa_condition(UNKNOWN, "AbleToScale") is None


def test_containers_without_cpu_request_count_sidecars_not_init_steps() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "100m"}}},
                {"name": "proxy", "resources": {"requests": {"memory": "10Mi"}}},
            ],
            "initContainers": [
                {"name": "migrate"},
                {"name": "log-shipper", "restartPolicy": "Always", "resources": {}},
            ],
        }
    }
    assert containers_without_cpu_request(pod) == ["proxy", "log-shipper"]


def test_failed_targets() -> None:
    result = {
        "status": "success",
        "data": {
            "result": [
                {"metric": {"pod": "a"}, "value": [1, "1"]},
                {"metric": {"pod": "b"}, "value": [1, "0"]},
            ]
        },
    }
    assert failed_targets(result) == [{"pod": "b"}]
    with pytest.raises(ValueError, match="query failed"):
        failed_targets({"status": "error"})
