"""Webhooks against a real local HTTP receiver: payload, HMAC signature, timeout, retries,
and the decision driven tick by tick with the hooks really called (confirm hold and
release, pre-rollout failure → rollback, rollout gate, fire-once hooks)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY

from controller.hooks import (
    HOOK_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HookClient,
    call_due,
    encode,
    run,
    verify,
)
from controller.kube import Kube
from controller.rollout import Decision, decide
from controller.rollout.actions import CallWebhook
from controller.rollout.webhooks import payload
from controller.spec import RolloutSpec, Webhook
from controller.status import Phase, RolloutStatus, Verdict
from tests.integration.controller.hook_receiver import Receiver
from tests.unit.controller.factories import NOW, metrics, readings, spec, status

pytestmark = pytest.mark.integration

NAME, NS = "credit-default", "credit-risk"
BODY = {"metadata": {"name": NAME, "namespace": NS}}
NO_KUBE = cast(Kube, None)  # hooks without secretRef never read a Secret
KEY = b"s3cret-hmac-key"


def fast_client() -> HookClient:
    return HookClient(sleep=lambda seconds: None)  # no back-off wait between attempts


def hook(receiver: Receiver, kind: str, path: str, **extra: Any) -> dict[str, Any]:
    return {"name": path.strip("/"), "type": kind, "url": receiver.url + path, **extra}


def webhook(receiver: Receiver, kind: str, path: str, **extra: Any) -> Webhook:
    return Webhook.model_validate(hook(receiver, kind, path, **extra))


def calls(kind: str) -> float:
    ok = REGISTRY.get_sample_value(
        "modelrollout_controller_webhook_calls_total", {"type": kind, "outcome": "ok"}
    )
    failed = REGISTRY.get_sample_value(
        "modelrollout_controller_webhook_calls_total", {"type": kind, "outcome": "failed"}
    )
    return (ok or 0) + (failed or 0)


# ------------------------------------------------------------------ one call
def test_payload_and_signature_verify(receiver: Receiver) -> None:
    target = webhook(receiver, "pre-rollout", "/load", metadata={"cmd": "hey -z 1m"})
    body = encode(payload(NAME, NS, target, status(Phase.INITIALIZING), NOW))
    result = fast_client().call(target, body, KEY)
    assert (result.ok, result.attempts, result.code) == (True, 1, 200)
    (got,) = receiver.on("/load")
    data = got.json()
    assert (data["name"], data["namespace"], data["type"]) == (NAME, NS, "pre-rollout")
    assert data["phase"] == "Initializing"
    assert data["model"] == {"name": NAME, "canaryVersion": "8", "stableVersion": "7"}
    assert data["metadata"] == {"cmd": "hey -z 1m"}
    assert {"weight", "step", "failedChecks", "lastAnalysis", "time"} <= set(data)
    assert got.headers[HOOK_HEADER] == "pre-rollout"
    stamp, signature = got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER]
    assert signature.startswith("sha256=")
    assert verify(KEY, stamp, got.body, signature, time.time())
    assert not verify(b"other key", stamp, got.body, signature, time.time())
    assert not verify(KEY, stamp, got.body + b" ", signature, time.time())
    assert not verify(KEY, stamp, got.body, signature, time.time() + 3600)  # replayed late


def test_without_a_key_nothing_is_signed(receiver: Receiver) -> None:
    target = webhook(receiver, "rollout", "/plain")
    assert fast_client().call(target, b"{}").ok
    (got,) = receiver.on("/plain")
    assert SIGNATURE_HEADER not in got.headers
    assert TIMESTAMP_HEADER not in got.headers


def test_a_timeout_fails_the_call_after_every_retry(receiver: Receiver) -> None:
    receiver.delay("/slow", 1.0)
    target = webhook(receiver, "pre-rollout", "/slow", timeout="200ms", retries=2)
    result = fast_client().call(target, b"{}")
    assert (result.ok, result.attempts, result.code) == (False, 3, None)
    assert result.message.startswith("timeout")
    assert len(receiver.on("/slow")) == 3


def test_5xx_is_retried_and_a_4xx_answer_is_final(receiver: Receiver) -> None:
    receiver.answer("/flaky", 503, 502)
    flaky = fast_client().call(webhook(receiver, "rollout", "/flaky", retries=2), b"{}")
    assert (flaky.ok, flaky.attempts, flaky.code) == (True, 3, 200)
    receiver.answer("/deny", default=403)
    deny = fast_client().call(webhook(receiver, "confirm-rollout", "/deny", retries=2), b"{}")
    assert (deny.ok, deny.attempts, deny.code) == (False, 1, 403)
    assert len(receiver.on("/deny")) == 1


def test_no_connection_is_a_failure_without_the_url(receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    receiver.stop()
    target = Webhook.model_validate(
        {"name": "gone", "type": "rollout", "url": f"http://127.0.0.1:{port}/token=abc"}
    )
    result = fast_client().call(target, b"{}")
    assert (result.ok, result.attempts, result.code) == (False, 3, None)
    assert "token" not in result.message
    assert "127.0.0.1" not in result.message


# ------------------------------------------------------------------ the decision, tick by tick
class Loop:
    """The reconcile without Kubernetes: due hooks really called, decide, fire-once hooks
    applied; the status carried from tick to tick."""

    def __init__(self, rollout: RolloutSpec, start: RolloutStatus) -> None:
        self.spec, self.status, self.now = rollout, start, NOW
        self.client = fast_client()
        self.decisions: list[Decision] = []

    def tick(self, seconds: float = 1, **observed: Any) -> Decision:
        self.now += timedelta(seconds=seconds)
        answers = call_due(self.client, NO_KUBE, BODY, self.spec, self.status, self.now)
        seen = replace(readings(**observed), hooks=answers)
        decision = decide(self.spec, self.status, seen, self.now)
        by_name = {h.name: h for h in self.spec.webhooks}
        for action in decision.actions:
            if isinstance(action, CallWebhook):
                target = by_name[action.name]
                run(self.client, NO_KUBE, NAME, NS, target, action.status, self.now)
        self.status = decision.status
        self.decisions.append(decision)
        return decision


def test_confirm_rollout_holds_until_the_receiver_answers_2xx(receiver: Receiver) -> None:
    receiver.answer("/confirm", default=403)
    rollout = spec(
        webhooks=[hook(receiver, "confirm-rollout", "/confirm")], canary={"interval": "10s"}
    )
    loop = Loop(rollout, status(Phase.INITIALIZING, canary_weight=0))
    loop.tick()  # the stage asks
    assert receiver.on("/confirm") == []
    for _ in range(12):  # 12 s: asked at once, then again after the 10 s interval
        assert loop.tick().status.phase is Phase.INITIALIZING
    assert len(receiver.on("/confirm")) == 2
    assert "waiting for confirm-rollout webhook confirm (HTTP 403)" in loop.status.message
    assert receiver.on("/confirm")[0].json()["phase"] == "Initializing"
    receiver.answer("/confirm", default=200)
    for _ in range(10):
        loop.tick()
    assert loop.status.phase is Phase.PROGRESSING
    assert loop.status.canary_weight == 5
    assert len(receiver.on("/confirm")) == 3
    assert loop.status.failed_checks == 0
    for _ in range(5):
        loop.tick()
    assert len(receiver.on("/confirm")) == 3  # never asked again in this attempt


def test_failing_pre_rollout_rolls_back_and_notification_hooks_fire_once(
    receiver: Receiver,
) -> None:
    receiver.answer("/pre", default=500)
    before = calls("rollback"), calls("post-rollout")
    rollout = spec(
        webhooks=[
            hook(receiver, "pre-rollout", "/pre", retries=1),
            hook(receiver, "rollback", "/rollback"),
            hook(receiver, "post-rollout", "/post"),
        ],
        canary={"interval": "2s", "failureThreshold": 2},
    )
    loop = Loop(rollout, status(Phase.INITIALIZING, canary_weight=0))
    phases = [loop.tick().status.phase for _ in range(10)]
    assert Phase.ROLLING_BACK in phases
    assert loop.status.phase is Phase.FAILED
    assert loop.status.condition("Promoted").reason == "WebhookFailed"  # type: ignore[union-attr]
    assert len(receiver.on("/pre")) == 4  # 2 calls (failureThreshold) x 2 attempts
    entry = loop.status.hook("pre")
    assert entry is not None
    assert (entry.calls, entry.attempts, entry.failures, entry.code) == (2, 4, 2, 500)
    (back,) = receiver.on("/rollback")
    (post,) = receiver.on("/post")
    assert back.json()["phase"] == "RollingBack"
    assert post.json()["phase"] == "Failed"
    assert post.json()["type"] == "post-rollout"
    assert (calls("rollback"), calls("post-rollout")) == (before[0] + 1, before[1] + 1)


def test_a_failing_rollout_hook_fails_the_analysis(receiver: Receiver) -> None:
    receiver.answer("/check", 500, 500, 500, 200)
    rollout = spec(
        webhooks=[hook(receiver, "rollout", "/check")],
        canary={"interval": "1s", "failureThreshold": 3},
    )
    loop = Loop(rollout, status())
    first = loop.tick()
    record = first.status.last_analysis
    assert record is not None
    assert (record.verdict, record.reason) == (Verdict.FAILED, "WebhookFailed")
    assert first.status.failed_checks == 1
    second = loop.tick()  # the fourth attempt answers 200
    assert second.status.last_analysis.verdict is Verdict.PASSED  # type: ignore[union-attr]
    assert second.status.canary_weight == 10
    assert len(receiver.on("/check")) == 4
    payload_ = receiver.on("/check")[-1].json()
    assert payload_["lastAnalysis"]["verdict"] == "Failed"  # the analysis before this one


def test_confirm_promotion_holds_at_the_last_step(receiver: Receiver) -> None:
    receiver.answer("/promote", default=409)
    rollout = spec(
        webhooks=[hook(receiver, "confirm-promotion", "/promote")],
        canary={"steps": [5, 50], "interval": "1s"},
    )
    loop = Loop(rollout, status(step=1, canary_weight=50))
    for _ in range(3):
        assert loop.tick(metrics=metrics()).status.phase is Phase.PROGRESSING
    assert len(receiver.on("/promote")) == 3  # asked with each analysis
    assert loop.status.message == (
        "analysis passed at 50%; waiting for confirm-promotion webhook promote (HTTP 409)"
    )
    receiver.answer("/promote", default=204)
    assert loop.tick().status.phase is Phase.PROMOTING
