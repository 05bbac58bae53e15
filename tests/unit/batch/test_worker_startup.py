"""A starting worker waits for its model (services/batch/worker/startup.py)."""

from __future__ import annotations

import pytest

from services.batch.worker.startup import build_when_ready

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def failing(times: int, error: BaseException) -> object:
    calls = {"n": 0}

    def build() -> str:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error
        return "context"

    return build


def test_retries_until_the_model_is_there() -> None:
    clock, waits = Clock(), []
    got = build_when_ready(
        failing(3, LookupError("alias champion not found")),  # type: ignore[arg-type]
        (LookupError,),
        wait_seconds=60,
        retry_seconds=5,
        on_wait=lambda exc, left: waits.append((str(exc), left)),
        clock=clock,
        sleep=clock.sleep,
    )
    assert got == "context"
    assert clock.slept == [5, 5, 5]
    assert [left for _, left in waits] == [60, 55, 50]


def test_gives_up_after_the_wait_with_the_last_error() -> None:
    clock = Clock()
    with pytest.raises(LookupError, match="never"):
        build_when_ready(
            failing(100, LookupError("never")),  # type: ignore[arg-type]
            (LookupError,),
            wait_seconds=12,
            retry_seconds=5,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.slept == [5, 5, 2]  # never sleeps past the deadline


def test_zero_wait_is_one_attempt_and_other_errors_pass_through() -> None:
    clock = Clock()
    with pytest.raises(LookupError):
        build_when_ready(
            failing(1, LookupError("x")), (LookupError,), 0, clock=clock, sleep=clock.sleep
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bug"):
        build_when_ready(
            failing(1, ValueError("bug")), (LookupError,), 60, clock=clock, sleep=clock.sleep
        )  # type: ignore[arg-type]
    assert clock.slept == []
