"""docs/webhooks.md and k8s/examples/modelrollout-webhooks.yaml say what the code does: the
receiver's verification snippet accepts the controller's signature, and the example is a
valid spec using every hook type."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from controller.spec import HOOK_TYPES, RolloutSpec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "webhooks.md").read_text()


def test_the_documented_receiver_check_verifies_the_controllers_signature() -> None:
    (snippet,) = re.findall(r"```python\n(.*?)```", DOC, re.S)
    scope: dict[str, Any] = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), scope)
    verified = scope["verified"]
    key, body, stamp = b"k3y", b'{"name":"credit-default"}', str(int(time.time()))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(key, stamp, body)}
    assert verified(key, headers, body)
    assert not verified(b"other", headers, body)
    assert not verified(key, headers, body.replace(b"credit", b"debit"))
    old = str(int(time.time()) - 3600)
    assert not verified(key, {**headers, TIMESTAMP_HEADER: old}, body)


def test_the_example_uses_every_hook_type_and_is_valid() -> None:
    example = yaml.safe_load((ROOT / "k8s" / "examples" / "modelrollout-webhooks.yaml").read_text())
    rollout = RolloutSpec.model_validate(example["spec"])
    assert {h.type for h in rollout.webhooks} == set(HOOK_TYPES)
    assert rollout.notifications is not None
    secrets = {h.secret_ref.name for h in rollout.webhooks if h.secret_ref}
    secrets.add(rollout.notifications.secret_ref.name)
    rbac = yaml.safe_load_all((ROOT / "k8s" / "rbac" / "secrets.yaml").read_text())
    role = next(d for d in rbac if d["kind"] == "Role")
    assert secrets == set(role["rules"][0]["resourceNames"])  # the example needs no more
