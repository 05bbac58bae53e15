"""The metadata every canary object carries (``controller.builders.meta``), pinned exactly:
the API server and the garbage collector read these field names, not our tests."""

from __future__ import annotations

import pytest

from controller.builders.meta import (
    MANAGED_BY,
    ROLLOUT_LABEL,
    controlled_by,
    env_value,
    with_env,
)
from tests.unit.controller.factories import OWNER

pytestmark = pytest.mark.unit


def test_the_owner_reference_makes_the_rollout_the_blocking_controller() -> None:
    assert OWNER.reference() == {
        "apiVersion": "mlops.creditrisk.io/v1alpha1",
        "kind": "ModelRollout",
        "name": "credit-default",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_metadata_names_labels_and_owns_the_object() -> None:
    meta = OWNER.metadata("inference-canary", {"app": "inference", ROLLOUT_LABEL: "spoofed"})
    assert meta == {
        "name": "inference-canary",
        "namespace": "credit-risk",
        "labels": {
            "app": "inference",
            **MANAGED_BY,
            ROLLOUT_LABEL: "credit-default",  # the rollout's own label wins
        },
        "ownerReferences": [OWNER.reference()],
    }
    assert OWNER.metadata("x")["labels"] == {**MANAGED_BY, ROLLOUT_LABEL: "credit-default"}


def test_objects_without_metadata_or_references_are_nobodys() -> None:
    assert not controlled_by({}, "uid-1")
    assert not controlled_by({"metadata": {}}, "uid-1")
    assert not controlled_by({"metadata": {"ownerReferences": None}}, "uid-1")


def _deployment(env: list[dict[str, object]] | None) -> dict[str, object]:
    pod = {"containers": [{"name": "inference", "env": env}]}
    return {"spec": {"template": {"spec": pod}}}


def test_env_value_reads_only_literal_values() -> None:
    deployment = _deployment(
        [{"name": "MODEL_URI", "value": "models:/m/7"}, {"name": "KEY", "valueFrom": {}}]
    )
    assert env_value(deployment, "MODEL_URI") == "models:/m/7"
    assert env_value(deployment, "KEY") is None
    assert env_value(deployment, "ABSENT") is None
    assert env_value(_deployment(None), "MODEL_URI") is None
    assert env_value({}, "MODEL_URI") is None


def test_with_env_copies_deeply_and_keeps_the_other_entries_in_order() -> None:
    original = {"name": "inference", "env": [{"name": "A", "value": "1"}], "ports": [{"p": 1}]}
    changed = with_env(original, {"MODEL_URI": "models:/m/8"})
    assert changed["env"] == [
        {"name": "A", "value": "1"},
        {"name": "MODEL_URI", "value": "models:/m/8"},
    ]
    changed["ports"][0]["p"] = 2
    changed["env"][0]["value"] = "changed"
    assert original == {
        "name": "inference",
        "env": [{"name": "A", "value": "1"}],
        "ports": [{"p": 1}],
    }
