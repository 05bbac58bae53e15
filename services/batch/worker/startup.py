"""A starting worker waits for its model instead of exiting.

On a fresh install the batch workers start before the trainer has registered the first
champion (and often before MLflow answers): pinning ``models:/NAME@champion`` fails with
"alias not found" or a connection error. Exiting then put the pod in CrashLoopBackOff
(found on the kind cluster: restarts back off to 5 min, long after the champion exists).
The worker now tries again every few seconds, taking no task meanwhile, and exits only when
the model is still unreadable after ``wait_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def build_when_ready(
    build: Callable[[], T],
    retry_on: tuple[type[BaseException], ...],
    wait_seconds: float,
    retry_seconds: float = 5.0,
    on_wait: Callable[[BaseException, float], None] = lambda exc, left: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``build()``; while it raises one of ``retry_on`` and ``wait_seconds`` have not passed,
    report it (``on_wait(error, seconds left)``), sleep ``retry_seconds`` and try again. The
    last error is raised once the time is up (``wait_seconds=0``: one attempt)."""
    deadline = clock() + wait_seconds
    while True:
        try:
            return build()
        except retry_on as exc:
            left = deadline - clock()
            if left <= 0:
                raise
            on_wait(exc, left)
            sleep(min(retry_seconds, left))
