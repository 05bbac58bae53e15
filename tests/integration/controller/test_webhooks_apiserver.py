"""Webhooks and notifications with the operator running against a REAL kube-apiserver
under its least-privilege ServiceAccount (k8s/rbac/, including secrets.yaml: get on the
two named Secrets only), and a real local HTTP receiver: a confirm-rollout hook holds the
rollout until the receiver answers 2xx; a failing pre-rollout hook rolls it back, the
rollback and post-rollout hooks fire once, and every transition is notified."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from controller.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from controller.kube import Kube
from controller.notifier import Notifier
from controller.prometheus import FakeMetricsSource
from controller.secrets import secret_data
from tests.integration.controller.cluster import NS, FakeKubelet, Operator
from tests.integration.controller.conftest import RolloutModels
from tests.integration.controller.hook_receiver import Receiver
from tests.integration.controller.test_operator_apiserver import (  # noqa: F401 (fixtures)
    FAST,
    Harness,
    admin,
    cp,
    make_runtime,
)
from tests.support.controlplane import ControlPlane
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

KEY = b"hmac-key-for-tests"


def secret(name: str, data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


@pytest.fixture
def hooked(
    cp: ControlPlane,  # noqa: F811
    admin: Kube,  # noqa: F811
    rollout_models: RolloutModels,
    receiver: Receiver,
) -> Iterator[Harness]:
    """The operator with a notifier reading Secrets through its own ServiceAccount."""
    cp.apply(
        secret("modelrollout-webhooks", {"hmac": KEY}),
        secret("modelrollout-notifications", {"webhook": f"{receiver.url}/notify".encode()}),
    )
    fakes: dict[str, FakeMetricsSource] = {}
    runtime = make_runtime(cp, rollout_models, fakes)
    runtime.notifier = Notifier(partial(secret_data, runtime.kube))
    operator = Operator(runtime)
    with FakeKubelet(admin) as kubelet:
        harness = Harness(cp, admin, rollout_models, operator.start(), kubelet, fakes)
        try:
            yield harness
        finally:
            harness.operator.stop()
            runtime.notifier.close()


def test_a_confirm_rollout_hook_holds_until_the_receiver_answers_2xx(
    hooked: Harness, receiver: Receiver
) -> None:
    h = hooked
    receiver.answer("/confirm", default=403)
    hook = {
        "name": "change-board",
        "type": "confirm-rollout",
        "url": f"{receiver.url}/confirm",
        "secretRef": {"name": "modelrollout-webhooks", "key": "hmac"},
        "metadata": {"ticket": "CHG-1"},
    }
    h.start("mro-confirm", "confirm", h.models.uri(h.models.new_version()), webhooks=[hook])
    wait_for("confirm hook asked twice", lambda: len(receiver.on("/confirm")) >= 2, timeout=60)
    status = h.status("mro-confirm")
    assert status["phase"] == "Initializing"
    assert status["canaryWeight"] == 0
    assert "waiting for confirm-rollout webhook change-board (HTTP 403)" in status["message"]
    assert h.weights("confirm") == [100, 0] or h.weights("confirm") == [100]
    first = receiver.on("/confirm")[0]
    body = first.json()
    assert (body["name"], body["namespace"], body["phase"]) == ("mro-confirm", NS, "Initializing")
    assert body["metadata"] == {"ticket": "CHG-1"}
    assert verify(
        KEY,
        first.headers[TIMESTAMP_HEADER],
        first.body,
        first.headers[SIGNATURE_HEADER],
        time.time(),
    )

    receiver.answer("/confirm", default=200)
    done = h.wait_phase("mro-confirm", "Succeeded", timeout=90)
    entry = next(e for e in done["hooks"] if e["name"] == "change-board")
    assert entry["state"] == "Passed"
    assert entry["code"] == 200
    calls = len(receiver.on("/confirm"))
    assert entry["calls"] == calls


def test_a_failing_pre_rollout_hook_rolls_back_and_notifies(
    hooked: Harness, receiver: Receiver
) -> None:
    h = hooked
    receiver.answer("/pre", default=500)
    hooks = [
        {"name": "smoke", "type": "pre-rollout", "url": f"{receiver.url}/pre", "retries": 1},
        {"name": "page", "type": "rollback", "url": f"{receiver.url}/rollback"},
        {"name": "report", "type": "post-rollout", "url": f"{receiver.url}/post"},
    ]
    h.start(
        "mro-pre",
        "pre",
        h.models.uri(h.models.new_version()),
        canary={**FAST["canary"], "failureThreshold": 2},
        webhooks=hooks,
        notifications={"secretRef": {"name": "modelrollout-notifications"}},
    )
    status = h.wait_phase("mro-pre", "Failed", timeout=90)
    assert h.condition("mro-pre", "Promoted")["reason"] == "WebhookFailed"
    assert status["failedChecks"] == 2
    assert status["canaryWeight"] == 0
    assert len(receiver.on("/pre")) == 4  # 2 calls x (1 + 1 retry)
    assert "WebhookFailed" in h.events("mro-pre")

    wait_for("post-rollout hook", lambda: receiver.on("/post"), timeout=30)
    time.sleep(2)  # more ticks: the fire-once hooks are not sent again
    (back,) = receiver.on("/rollback")
    (post,) = receiver.on("/post")
    assert back.json()["phase"] == "RollingBack"
    assert (post.json()["phase"], post.json()["type"]) == ("Failed", "post-rollout")

    def notified() -> list[tuple[str, str]]:
        return [(r.json()["from_phase"], r.json()["to_phase"]) for r in receiver.on("/notify")]

    wait_for("notifications", lambda: ("RollingBack", "Failed") in notified(), timeout=30)
    assert notified()[:3] == [
        ("Pending", "Initializing"),
        ("Initializing", "RollingBack"),
        ("RollingBack", "Failed"),
    ]


def test_a_secret_the_operator_did_not_list_is_refused_by_the_api_server(
    hooked: Harness, receiver: Receiver
) -> None:
    """A ModelRollout author names another Secret of the namespace as an HMAC key: the
    controller's ServiceAccount may not read it, the hook is never called, the rollout
    holds, and no value appears anywhere."""
    h = hooked
    h.cp.apply(secret("database", {"password": b"do-not-leak"}))
    hook = {
        "name": "sneaky",
        "type": "confirm-rollout",
        "url": f"{receiver.url}/sneaky",
        "secretRef": {"name": "database", "key": "password"},
    }
    h.start("mro-sneaky", "sneaky", h.models.uri(h.models.new_version()), webhooks=[hook])

    def refused() -> dict[str, Any] | None:
        entries = h.status("mro-sneaky").get("hooks") or []
        return next((e for e in entries if e["state"] == "Waiting"), None)

    entry = wait_for("the hook refused", refused, timeout=60)
    assert entry["message"] == f"Secret {NS}/database: HTTP 403"
    assert entry["attempts"] == 0
    assert receiver.on("/sneaky") == []
    status = h.status("mro-sneaky")
    assert status["phase"] == "Initializing"
    assert status["canaryWeight"] == 0
    assert "do-not-leak" not in str(status)
