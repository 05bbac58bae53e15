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
        self.wrap(executor, "side_by_side", "stages")  # effects with the lanes waited for
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

    def __init__(self, workers: int, name: str = "ticks", starts: int | None = None) -> None:
        super().__init__(workers, name, starts)
        self.waits: list[float] = []
        self._waits_lock = threading.Lock()

    def submit(
        self, key: float, fn: Callable[..., Any], *args: Any, start: bool = False
    ) -> Future[Any]:
        queued = time.perf_counter()

        def timed(*inner: Any) -> Any:
            with self._waits_lock:
                self.waits.append(time.perf_counter() - queued)
            return fn(*inner)

        return super().submit(key, timed, *args, start=start)


class PoolClock:
    """How long each task of a ``ThreadPoolExecutor`` waits for one of its threads (the
    runtime's ``writes`` pool: the side-by-side lanes of the effects)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def install(self, pool: Any) -> PoolClock:
        inner = pool.submit

        def submit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            queued = time.perf_counter()

            def timed() -> Any:
                with self._lock:
                    self.waits.append(time.perf_counter() - queued)
                return fn(*args, **kwargs)

            return inner(timed)

        pool.submit = submit
        return self


class ConnectionClock:
    """How long requests wait to take a pooled urllib3 connection (``_get_conn``: with the
    kubernetes client's non-blocking pools, only the queue's lock), how many connections
    are opened (``_new_conn``: a TLS handshake each) and how many are closed on return
    because the pool is full (``_put_conn`` finding no room: opened for one request)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.opened = 0
        self.discarded = 0
        self._lock = threading.Lock()
        self._undo: list[tuple[Any, str, Any]] = []

    def install(self) -> ConnectionClock:
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        get_conn, new_conn, put_conn = (
            HTTPConnectionPool._get_conn,
            HTTPConnectionPool._new_conn,
            HTTPConnectionPool._put_conn,
        )
        clock = self

        def timed_get(pool: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return get_conn(pool, *args, **kwargs)
            finally:
                with clock._lock:
                    clock.waits.append(time.perf_counter() - started)

        def counted_new(pool: Any, *args: Any, **kwargs: Any) -> Any:
            with clock._lock:
                clock.opened += 1
            return new_conn(pool, *args, **kwargs)

        def counted_put(pool: Any, conn: Any) -> Any:
            full = pool.pool is not None and pool.pool.full()
            if full and conn is not None:
                with clock._lock:
                    clock.discarded += 1
            return put_conn(pool, conn)

        https_new = HTTPSConnectionPool._new_conn  # its own (TLS): counted too

        def counted_https(pool: Any, *args: Any, **kwargs: Any) -> Any:
            with clock._lock:
                clock.opened += 1
            return https_new(pool, *args, **kwargs)

        wrappers: tuple[tuple[type, str, Any], ...] = (
            (HTTPConnectionPool, "_get_conn", timed_get),
            (HTTPConnectionPool, "_new_conn", counted_new),
            (HTTPConnectionPool, "_put_conn", counted_put),
            (HTTPSConnectionPool, "_new_conn", counted_https),
        )
        for owner, name, fn in wrappers:
            self._undo.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, fn)
        return self

    def uninstall(self) -> None:
        for owner, name, inner in reversed(self._undo):
            setattr(owner, name, inner)
        self._undo.clear()
