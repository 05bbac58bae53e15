"""Which queued tick runs first (``rollout.urgency``) and the pool that honours it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from controller import ACTION_ANNOTATION
from controller.rollout.urgency import order, urgency
from controller.ticks import TickPool

pytestmark = pytest.mark.unit


def obj(phase: str | None = None, **meta: Any) -> dict[str, Any]:
    return {"metadata": meta, "status": {"phase": phase} if phase else {}}


@pytest.mark.parametrize(
    ("body", "level"),
    [
        (obj("RollingBack"), 0),
        (obj("Progressing", deletionTimestamp="t"), 0),
        (obj("Succeeded", annotations={ACTION_ANNOTATION: "retry"}), 0),
        (obj("Progressing"), 1),
        (obj("AwaitingApproval"), 1),
        (obj("Initializing"), 2),
        (obj("Promoting"), 2),
        (obj(None), 2),
        (obj("Failed"), 3),
        (obj("Succeeded"), 3),
    ],
)
def test_urgency(body: dict[str, Any], level: int) -> None:
    assert urgency(body, ACTION_ANNOTATION) == level


def test_a_rollback_goes_first_the_rest_by_arrival_with_a_bounded_head_start() -> None:
    assert order(0, 100.0, 10) < order(1, 0.0, 10)
    assert order(1, 5.0, 10) < order(2, 0.0, 10)  # a head start of 10 s
    assert order(2, 0.0, 10) < order(1, 11.0, 10)  # and no more
    assert order(3, 0.0, 10) < order(1, 21.0, 10)


def test_the_pool_runs_the_lowest_key_first() -> None:
    pool = TickPool(1)
    gate, ran = threading.Event(), []
    first = pool.submit(0.0, gate.wait, 5)  # holds the only thread
    futures = [pool.submit(key, ran.append, key) for key in (3.0, 1.0, float("-inf"), 2.0)]
    gate.set()
    for future in [first, *futures]:
        future.result(5)
    assert ran == [float("-inf"), 1.0, 2.0, 3.0]
    failing = pool.submit(0.0, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(5)
    pool.stop()
