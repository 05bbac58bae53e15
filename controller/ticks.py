"""The threads that run the reconciles of the timer ticks, earliest ``order`` first
(``rollout.urgency``), instead of kopf's first-come executor: with 1,000 rollouts due and
a few workers, a rollback's last tick no longer waits behind every other rollout's."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

Job = tuple[float, int, Future[Any] | None, Callable[..., Any] | None, tuple[Any, ...]]


class TickPool:
    """``workers`` daemon threads taking jobs from one priority queue (ties: first in)."""

    def __init__(self, workers: int, name: str = "ticks") -> None:
        self.workers, self.name = workers, name
        self._queue: queue.PriorityQueue[Job] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.workers:
                index = len(self._threads)
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def submit(self, key: float, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if len(self._threads) < self.workers:
            self._start()
        future: Future[Any] = Future()
        self._queue.put((key, next(self._seq), future, fn, args))
        return future

    def waiting(self) -> int:
        return self._queue.qsize()

    def _work(self) -> None:
        while True:
            _, _, future, fn, args = self._queue.get()
            if future is None or fn is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the awaiting handler
                future.set_exception(exc)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put((float("inf"), next(self._seq), None, None, ()))
        self._threads = []
