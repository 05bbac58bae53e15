"""The background Event queue: order per rollout, a bound, failures that never raise."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from controller.events import EventQueue
from controller.kube import KubeError

pytestmark = pytest.mark.unit


class Recorder:
    """Stands in for ``Kube.create`` (the unit under test is the queue, not the API)."""

    def __init__(self, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.posted: list[tuple[str, str]] = []
        self.fail, self.gate = fail, gate

    def create(self, res: Any, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise KubeError(500, "boom")
        self.posted.append((body["involvedObject"]["name"], body["reason"]))
        return body


def body(name: str, reason: str) -> dict[str, Any]:
    return {"involvedObject": {"name": name}, "reason": reason}


def test_events_of_one_rollout_keep_their_order() -> None:
    kube = Recorder()
    events = EventQueue(kube, threads=3).start()  # type: ignore[arg-type]
    reasons = [f"R{i}" for i in range(50)]
    for reason in reasons:
        assert events.post("ns", body("a", reason))
        assert events.post("ns", body("b", reason))
    assert events.join(5)
    events.stop()
    assert [r for n, r in kube.posted if n == "a"] == reasons
    assert [r for n, r in kube.posted if n == "b"] == reasons


def test_a_full_queue_drops_instead_of_blocking() -> None:
    gate = threading.Event()
    kube = Recorder(gate=gate)
    events = EventQueue(kube, threads=1, capacity=2).start()  # type: ignore[arg-type]
    accepted = [events.post("ns", body("a", f"R{i}")) for i in range(6)]
    assert accepted.count(False) >= 3  # one in flight at most, two queued
    gate.set()
    assert events.join(5)
    events.stop()
    assert len(kube.posted) == accepted.count(True)


def test_a_failed_post_is_logged_and_the_queue_goes_on() -> None:
    kube = Recorder(fail=True)
    events = EventQueue(kube, threads=1).start()  # type: ignore[arg-type]
    assert events.post("ns", body("a", "R"))
    assert events.join(5)
    kube.fail = False
    assert events.post("ns", body("a", "S"))
    assert events.join(5)
    events.stop()
    assert kube.posted == [("a", "S")]


def test_stop_posts_what_is_queued() -> None:
    gate = threading.Event()
    kube = Recorder(gate=gate)
    events = EventQueue(kube, threads=2).start()  # type: ignore[arg-type]
    for i in range(20):
        assert events.post("ns", body(f"r{i % 5}", f"R{i}"))
    gate.set()
    assert events.stop(timeout=5) == 0
    assert len(kube.posted) == 20
    assert not events.post("ns", body("late", "R"))  # refused once stopping


def test_stop_is_bounded_and_counts_what_it_drops() -> None:
    from prometheus_client import REGISTRY

    def dropped() -> float:
        found = REGISTRY.get_sample_value(
            "modelrollout_controller_events_total", {"outcome": "dropped"}
        )
        return found or 0.0

    gate = threading.Event()  # never set: every post hangs (up to the Recorder's 5 s)
    kube = Recorder(gate=gate)
    events = EventQueue(kube, threads=1).start()  # type: ignore[arg-type]
    for i in range(10):
        assert events.post("ns", body("a", f"R{i}"))
    before = dropped()
    started = time.monotonic()
    lost = events.stop(timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert lost == 9  # one was being posted when the bound passed
    assert dropped() - before == 9
    gate.set()
