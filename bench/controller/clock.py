"""Where one reconcile's wall time goes, and how long a tick waits for a tick thread
(scale benchmark only, diagnosis; changes no request and no decision).

``PhaseClock`` wraps functions ``controller.reconcile`` / ``controller.executor`` call by
module-global name (``observe``, ``decide``, ``execute``, ``write_status``, the MLflow
adapter's calls) and adds each call's wall time to the current thread's tally; the
``Meter`` takes the tally of every reconcile. ``QueueClock`` wraps the ``TickPool`` of the
runtime so each tick's wait between its submission and a thread taking it is kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from controller.ticks import TickPool


class PhaseClock:
    def __init__(self) -> None:
        self._local = threading.local()
        self.tallies: list[dict[str, float]] = []
        self._lock = threading.Lock()
        self._undo: list[tuple[Any, Any, Any]] = []

    def start(self) -> None:
        self._local.tally = {}

    def finish(self) -> dict[str, float]:
        tally: dict[str, float] = getattr(self._local, "tally", None) or {}
        self._local.tally = None
        with self._lock:
            self.tallies.append(tally)
        return tally

    def timed(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        """``fn``, adding each call's wall time to the current thread's tally under ``label``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                tally = getattr(self._local, "tally", None)
                if tally is not None:
                    tally[label] = tally.get(label, 0.0) + time.perf_counter() - started

        return timed

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        inner = getattr(owner, attr)
        setattr(owner, attr, self.timed(inner, label))
        self._undo.append((owner, attr, inner))

    def install(self, registry: Any) -> PhaseClock:
        import controller.appliers as appliers
        import controller.executor as executor
        import controller.reconcile as reconcile

        self.wrap(reconcile, "parse_spec", "parse")
        self.wrap(reconcile, "observe", "observe")
        self.wrap(reconcile, "decide", "decide")
        self.wrap(reconcile, "execute", "execute")
        self.wrap(executor, "write_status", "status_write")
        for method, label in (("check", "mlflow_contract"), ("move_alias", "mlflow_write")):
            self.wrap(registry, method, label)
        self.wrap(registry, "tag", "mlflow_write")
        for kind, fn in list(appliers.APPLIERS.items()):
            appliers.APPLIERS[kind] = self.timed(fn, "effects")
            self._undo.append((appliers.APPLIERS, kind, fn))
        return self

    def uninstall(self) -> None:
        for owner, attr, inner in reversed(self._undo):
            if isinstance(owner, dict):
                owner[attr] = inner
            else:
                setattr(owner, attr, inner)
        self._undo.clear()


class QueueClock(TickPool):
    """A ``TickPool`` that keeps each tick's wait for a thread (seconds)."""

    def __init__(self, workers: int, name: str = "ticks") -> None:
        super().__init__(workers, name)
        self.waits: list[float] = []
        self._waits_lock = threading.Lock()

    def submit(self, key: float, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        queued = time.perf_counter()

        def timed(*inner: Any) -> Any:
            with self._waits_lock:
                self.waits.append(time.perf_counter() - queued)
            return fn(*inner)

        return super().submit(key, timed, *args)
