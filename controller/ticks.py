"""The threads that run the reconciles of the timer ticks, earliest ``order`` first
(``rollout.urgency``), instead of kopf's first-come executor: with 1,000 rollouts due and
a few workers, a rollback's last tick no longer waits behind every other rollout's.

Ticks of rollouts that are starting (``rollout.urgency.starting``: no status yet, Pending,
Initializing) run at most ``starts`` at a time. 1,000 rollouts created together otherwise
fill every thread with their first reconciles, each reading its objects and writing its
canary on the one API server at once; the API server serves about as many requests per
second either way, so each reconcile only waits longer (wall ≈ reconciles at once /
throughput). The threads a start cannot take serve the ticks of rollouts further on.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

Job = tuple[float, int, Future[Any], Callable[..., Any], tuple[Any, ...]]

OTHER, START = 0, 1


def pick(other: float | None, start: float | None, room: bool) -> int | None:
    """Which queue a free thread takes from, given the key at the head of each (``None``:
    empty) and whether a start may run now (``room``): the lower key of the two it may
    take, ties to the other; ``None`` when it may take neither."""
    if start is not None and room and (other is None or start < other):
        return START
    return OTHER if other is not None else None


class TickPool:
    """``workers`` daemon threads taking jobs from two priority queues (ties: first in): the
    ticks of starting rollouts, at most ``starts`` running at once (``None``: as many as
    there are threads), and the others."""

    def __init__(self, workers: int, name: str = "ticks", starts: int | None = None) -> None:
        self.workers, self.name = workers, name
        self.starts = workers if starts is None else max(1, min(starts, workers))
        self._queues: tuple[list[Job], list[Job]] = ([], [])
        self._running_starts = 0
        self._stopping = False
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()

    def _start(self) -> None:
        with self._cond:
            while len(self._threads) < self.workers:
                index = len(self._threads)
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def submit(
        self, key: float, fn: Callable[..., Any], *args: Any, start: bool = False
    ) -> Future[Any]:
        """Queue ``fn(*args)`` at ``key``; ``start``: the tick of a starting rollout. A
        stopped pool takes no more jobs (``RuntimeError``, as an executor shut down)."""
        if self._stopping:
            raise RuntimeError("the tick pool is stopped")
        if len(self._threads) < self.workers:
            self._start()
        future: Future[Any] = Future()
        with self._cond:
            heapq.heappush(
                self._queues[START if start else OTHER], (key, next(self._seq), future, fn, args)
            )
            self._cond.notify()
        return future

    def waiting(self) -> int:
        with self._cond:
            return len(self._queues[OTHER]) + len(self._queues[START])

    def _take(self) -> tuple[int, Job] | None:
        """The next job this thread may run (``None``: stopped and nothing left)."""
        with self._cond:
            while True:
                heads = [q[0][0] if q else None for q in self._queues]
                which = pick(heads[OTHER], heads[START], self._running_starts < self.starts)
                if which is not None:
                    if which == START:
                        self._running_starts += 1
                    return which, heapq.heappop(self._queues[which])
                if self._stopping and not self._queues[START]:
                    return None
                self._cond.wait()

    def _done(self, which: int) -> None:
        if which == START:
            with self._cond:
                self._running_starts -= 1
                self._cond.notify_all()

    def _work(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            which, (_, _, future, fn, args) = taken
            try:
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # handed to the awaiting handler
                    future.set_exception(exc)
            finally:
                self._done(which)

    def stop(self) -> None:
        """The threads end once every queued job has run."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._threads = []
