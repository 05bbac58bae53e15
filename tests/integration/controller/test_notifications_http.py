"""Phase-transition notifications against a real local HTTP receiver: Slack, Teams and
generic JSON shapes, the rate limit, the bounded queue, and failures that are counted and
logged without the URL and never raised."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

import pytest
from loguru import logger
from prometheus_client import REGISTRY

from controller.notifications import Transition
from controller.notifier import Notifier
from controller.secrets import SecretError
from tests.integration.controller.hook_receiver import Receiver

pytestmark = pytest.mark.integration


def change(to: str = "Progressing", name: str = "credit-default") -> Transition:
    return Transition(
        namespace="credit-risk",
        name=name,
        from_phase="Initializing",
        to_phase=to,
        reason="Progressing",
        message="canary v8 ready; weight 5%",
        model="credit-default",
        canary_version="8",
        stable_version="7",
        weight=5,
        time="2026-03-01T12:00:00+00:00",
    )


def counted(channel: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "modelrollout_controller_notifications_total", {"channel": channel, "outcome": outcome}
    )
    return value or 0.0


class FakeClock:
    """Monotonic time that only moves when the notifier sleeps (rate-limit test)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG")
    try:
        yield lines
    finally:
        logger.remove(sink)


def test_slack_teams_and_generic_messages(receiver: Receiver) -> None:
    urls = {
        "slack": f"{receiver.url}/slack".encode(),
        "teams": f"{receiver.url}/teams".encode(),
        "webhook": f"{receiver.url}/generic".encode(),
    }
    seen: list[tuple[str, str]] = []

    def resolve(namespace: str, secret: str) -> Mapping[str, bytes]:
        seen.append((namespace, secret))
        return urls

    notifier = Notifier(resolve)
    sent = counted("slack", "sent")
    assert notifier.notify("rollout-notifications", change("RollingBack"))
    notifier.drain()
    notifier.close()
    assert seen == [("credit-risk", "rollout-notifications")]
    (slack,) = receiver.on("/slack")
    body = slack.json()
    assert "Initializing → RollingBack" in body["text"]
    assert body["blocks"][0]["type"] == "section"
    assert "canary v8 ready" in body["blocks"][0]["text"]["text"]
    (teams,) = receiver.on("/teams")
    card = teams.json()
    assert (card["@type"], card["@context"]) == ("MessageCard", "https://schema.org/extensions")
    assert card["themeColor"] == "D00000"
    facts = {f["name"]: f["value"] for f in card["sections"][0]["facts"]}
    assert facts["phase"] == "Initializing → RollingBack"
    assert facts["model"] == "credit-default v8 (stable v7)"
    (generic,) = receiver.on("/generic")
    doc = generic.json()
    assert doc["kind"] == "ModelRolloutTransition"
    assert (doc["from_phase"], doc["to_phase"], doc["weight"]) == ("Initializing", "RollingBack", 5)
    assert counted("slack", "sent") == sent + 1


def test_messages_beyond_the_burst_wait_for_the_rate(receiver: Receiver) -> None:
    clock = FakeClock()
    url = {"webhook": f"{receiver.url}/rated".encode()}
    notifier = Notifier(lambda ns, s: url, per_minute=60, burst=2, clock=clock, sleep=clock.sleep)
    for i in range(5):
        assert notifier.notify("s", change(name=f"r{i}"))
    notifier.drain()
    notifier.close()
    assert [r.json()["name"] for r in receiver.on("/rated")] == [f"r{i}" for i in range(5)]
    # 2 at once (burst), then one a second: 3 waits of 1 s
    assert sum(clock.slept) == pytest.approx(3.0)
    assert len(clock.slept) == 3


def test_a_full_queue_drops_and_counts(receiver: Receiver) -> None:
    entered, release = threading.Event(), threading.Event()
    url = {"webhook": f"{receiver.url}/queued".encode()}

    def slow(namespace: str, secret: str) -> Mapping[str, bytes]:
        entered.set()
        release.wait(10)
        return url

    notifier = Notifier(slow, capacity=1)
    dropped = counted("all", "dropped")
    assert notifier.notify("s", change(name="first"))
    assert entered.wait(10)  # the worker holds "first"
    assert notifier.notify("s", change(name="second"))  # queued
    assert not notifier.notify("s", change(name="third"))  # queue full: dropped, not blocked
    release.set()
    notifier.drain()
    notifier.close()
    assert [r.json()["name"] for r in receiver.on("/queued")] == ["first", "second"]
    assert counted("all", "dropped") == dropped + 1


def test_failures_are_counted_and_logged_without_urls(receiver: Receiver, logs: list[str]) -> None:
    receiver.answer("/broken?token=xoxb-secret", default=500)
    secret_url = f"{receiver.url}/broken?token=xoxb-secret"
    urls = {"slack": secret_url.encode(), "teams": b"not a url at all"}
    notifier = Notifier(lambda ns, s: urls)
    before = counted("slack", "failed"), counted("teams", "failed"), counted("all", "failed")
    assert notifier.notify("s", change())

    def missing(namespace: str, secret: str) -> Mapping[str, bytes]:
        raise SecretError(f"Secret {namespace}/{secret} not found")

    notifier.drain()
    notifier.close()
    other = Notifier(missing)
    assert other.notify("gone", change())
    other.drain()
    other.close()
    after = counted("slack", "failed"), counted("teams", "failed"), counted("all", "failed")
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert len(receiver.on("/broken?token=xoxb-secret")) == 1
    text = "\n".join(logs)
    assert "slack notification for credit-risk/credit-default (Progressing) failed" in text
    assert "Secret credit-risk/gone not found" in text
    assert "xoxb" not in text
    assert receiver.url not in text
    assert "not a url" not in text
