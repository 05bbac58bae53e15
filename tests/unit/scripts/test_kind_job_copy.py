"""scripts/kind/job_copy.py: the kind e2e's training Jobs copied from the chart's."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "kind" / "job_copy.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("job_copy", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def served_job() -> dict[str, Any]:
    """The chart's trainer Job as a Kubernetes >= 1.27 API server returns it."""
    uid = "e6cb5a20-c703-484a-8197-e83d0befacd0"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "cr-trainer", "namespace": "ns", "uid": uid, "labels": {"app": "cr"}},
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "manualSelector": False,
            "template": {
                "metadata": {
                    "labels": {
                        "app.kubernetes.io/component": "trainer",
                        "batch.kubernetes.io/controller-uid": uid,
                        "batch.kubernetes.io/job-name": "cr-trainer",
                        "controller-uid": uid,
                        "job-name": "cr-trainer",
                    }
                },
                "spec": {"containers": [{"name": "t", "args": ["--x"]}]},
            },
        },
        "status": {"succeeded": 1},
    }


def test_copy_drops_every_label_the_job_controller_set() -> None:
    job = load().copy_job(served_job(), "cr-train-v2")
    assert job["metadata"] == {"name": "cr-train-v2", "namespace": "ns", "labels": {"app": "cr"}}
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "app.kubernetes.io/component": "trainer"
    }
    assert "selector" not in job["spec"]
    assert "manualSelector" not in job["spec"]
    assert "status" not in job


def test_copy_with_a_command_mounts_the_script() -> None:
    job = load().copy_job(served_job(), "cr-train-v3", ["python", "/opt/e2e/train_drifted.py"])
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["python", "/opt/e2e/train_drifted.py"]
    assert pod["containers"][0]["args"] == []
    assert pod["volumes"] == [{"name": "e2e", "configMap": {"name": "creditrisk-e2e"}}]
