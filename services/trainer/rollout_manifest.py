"""Emit a ModelRollout manifest that proposes a freshly registered version."""

from __future__ import annotations

from pathlib import Path

import yaml


def rollout_manifest(model_name: str, version: str, namespace: str = "credit-risk") -> dict:
    return {
        "apiVersion": "mlops.creditrisk.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": model_name, "namespace": namespace},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "inference"},
            "model": {"uri": f"models:/{model_name}/{version}"},
        },
    }


def write_manifest(path: Path, model_name: str, version: str) -> Path:
    path.write_text(yaml.safe_dump(rollout_manifest(model_name, version), sort_keys=False))
    return path
