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


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (obj(None), True),
        (obj("Pending"), True),
        (obj("Initializing"), True),
        (obj("Initializing", deletionTimestamp="t"), False),  # urgency 0: never held back
        (obj(None, annotations={ACTION_ANNOTATION: "abort"}), False),
        (obj("Progressing"), False),
        (obj("RollingBack"), False),
        (obj("Succeeded"), False),
        (None, False),
    ],
)
def test_starting_ticks(body: dict[str, Any] | None, start: bool) -> None:
    from controller.rollout.urgency import starting

    assert starting(body, ACTION_ANNOTATION) is start


def test_a_free_thread_takes_the_lower_key_a_start_only_with_room() -> None:
    from controller.ticks import OTHER, START, pick

    assert pick(2.0, 1.0, room=True) == START
    assert pick(1.0, 2.0, room=True) == OTHER
    assert pick(1.0, 1.0, room=True) == OTHER  # ties to the rollouts further on
    assert pick(2.0, 1.0, room=False) == OTHER
    assert pick(None, 1.0, room=True) == START
    assert pick(None, 1.0, room=False) is None
    assert pick(None, None, room=True) is None


def test_starts_run_a_bounded_number_at_once_the_rest_beside_them() -> None:
    pool = TickPool(3, starts=1)
    gate = threading.Event()
    lock, running, peak, ran = threading.Lock(), [0], [0], []

    def start(tag: str) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(5)
        with lock:
            running[0] -= 1
            ran.append(tag)

    starts = [pool.submit(float(i), start, f"s{i}", start=True) for i in range(3)]
    # one start holds its thread; a later tick of a rollout under way still runs at once
    other = pool.submit(10.0, ran.append, "other")
    other.result(5)
    assert ran == ["other"]
    gate.set()
    for future in starts:
        future.result(5)
    assert peak[0] == 1
    assert ran == ["other", "s0", "s1", "s2"]
    pool.stop()


def test_stopping_runs_what_is_queued_then_ends_the_threads() -> None:
    pool = TickPool(2, name="stopping-test", starts=1)  # its own threads' names
    gate, ran = threading.Event(), []
    held = pool.submit(0.0, gate.wait, 5, start=True)
    queued = [pool.submit(1.0, ran.append, i, start=True) for i in range(2)]
    # this pool's threads only: pools of other tests (and runtimes) live in the same process
    threads = [t for t in threading.enumerate() if t.name.startswith("stopping-test-")]
    assert len(threads) == 2
    pool.stop()
    gate.set()
    for future in [held, *queued]:
        future.result(5)
    assert ran == [0, 1]
    for thread in threads:
        thread.join(5)
    assert not any(t.is_alive() for t in threads), "a tick thread outlived stop()"
    with pytest.raises(RuntimeError, match="stopped"):
        pool.submit(2.0, ran.append, 2)
