"""A steady, open-loop request rate split between stable and canary by the route weights.

A dispatcher thread releases one request every ``1/rate`` seconds (for at most
``duration`` seconds); worker threads send them. Each request picks a backend by smooth
weighted round-robin over the current route snapshot (exact proportions, no random
drift), then a ready address of that backend round-robin. Every request is counted per
track; every failure (non-2xx, connection refused or broken, timeout, or no ready
endpoint for a backend that has weight — a gateway's 503) is kept with its time, track
and reason.

A backend with a ``mirror`` share (an HTTPRoute ``RequestMirror`` filter) gets a copy of
that share of requests (chosen evenly, by a running count), sent on a separate thread
pool after the answer; the copy's answer is discarded and counted apart (``mirrored``),
never as an applicant's answer — as a gateway mirrors.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.harness.applicants import ApplicantPool
from tests.e2e.harness.routing import Backend, Routes

PREDICT = "/api/v1/predict"


@dataclass(frozen=True)
class Failure:
    at: float  # time.time()
    track: str
    address: str | None
    reason: str  # http_500, connect, disconnected, timeout, no_endpoints, no_route


@dataclass
class TrackCount:
    sent: int = 0
    ok: int = 0
    failed: int = 0


@dataclass
class LoadStats:
    tracks: dict[str, TrackCount] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    skipped: int = 0  # client-side overload: a tick found every worker busy
    mirrored: Counter[str] = field(default_factory=Counter)  # copies sent, by track
    mirror_failed: Counter[str] = field(default_factory=Counter)  # copies without a 2xx
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, track: str, address: str | None, reason: str | None) -> None:
        with self._lock:
            count = self.tracks.setdefault(track, TrackCount())
            count.sent += 1
            if reason is None:
                count.ok += 1
            else:
                count.failed += 1
                self.failures.append(Failure(time.time(), track, address, reason))

    def record_mirror(self, track: str, ok: bool) -> None:
        with self._lock:
            self.mirrored[track] += 1
            if not ok:
                self.mirror_failed[track] += 1

    def mirrors(self) -> Counter[str]:
        with self._lock:
            return Counter(self.mirrored)

    def counts(self) -> dict[str, TrackCount]:
        with self._lock:
            return {k: TrackCount(v.sent, v.ok, v.failed) for k, v in self.tracks.items()}

    def sent(self, track: str | None = None) -> int:
        counts = self.counts()
        return sum(c.sent for k, c in counts.items() if track is None or k == track)

    def failed_between(self, start: float, end: float | None = None) -> list[Failure]:
        with self._lock:
            return [f for f in self.failures if f.at >= start and (end is None or f.at <= end)]

    def reasons(self) -> Counter[str]:
        with self._lock:
            return Counter(f"{f.track}:{f.reason}" for f in self.failures)


class WeightedPicker:
    """Smooth weighted round-robin (nginx): over any window of ``sum(weights)`` picks each
    backend is chosen exactly ``weight`` times, interleaved."""

    def __init__(self) -> None:
        self._current: dict[str, int] = {}
        self._rr: dict[str, int] = {}
        self._lock = threading.Lock()

    def pick(self, backends: list[Backend]) -> Backend | None:
        live = [b for b in backends if b.weight > 0]
        if not live:
            return None
        with self._lock:
            total = sum(b.weight for b in live)
            for b in live:
                self._current[b.service] = self._current.get(b.service, 0) + b.weight
            best = max(live, key=lambda b: self._current[b.service])
            self._current[best.service] -= total
            return best

    def address(self, backend: Backend) -> str | None:
        if not backend.addresses:
            return None
        with self._lock:
            n = self._rr.get(backend.service, 0)
            self._rr[backend.service] = n + 1
        return backend.addresses[n % len(backend.addresses)]

    def mirror(self, backend: Backend) -> bool:
        """Whether this request is copied to ``backend``: ``mirror`` of every 100, evenly
        (a running count per backend, no random drift)."""
        if backend.mirror <= 0:
            return False
        with self._lock:
            key = f"mirror:{backend.service}"
            n = self._rr.get(key, 0)
            self._rr[key] = n + 1
        return (n + 1) * backend.mirror // 100 > n * backend.mirror // 100


# Pooled connections are dropped after this long idle: below uvicorn's keep-alive timeout
# (5 s, the inference server's default). At equal timeouts a request sent on a connection
# the server is closing at that instant fails without reaching it ("Server disconnected");
# a gateway's idle timeout is set below its upstreams' keep-alive for the same reason.
KEEPALIVE_EXPIRY = 2.0


def client(timeout: float) -> httpx.Client:
    return httpx.Client(timeout=timeout, limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY))


class LoadGenerator:
    def __init__(
        self,
        routes: Routes,
        pools: dict[str, ApplicantPool],
        rate: float = 40.0,
        workers: int = 8,
        timeout: float = 5.0,
        path: str = PREDICT,
    ) -> None:
        if "*" not in pools:
            raise ValueError("pools needs a '*' entry (per-track entries override it)")
        self.routes, self.pools, self.rate = routes, dict(pools), rate
        self.workers, self.timeout, self.path = workers, timeout, path
        self.stats = LoadStats()
        self.picker = WeightedPicker()
        self._ticks: queue.Queue[bool] = queue.Queue(maxsize=max(workers * 8, int(rate)))
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._mirrors = ThreadPoolExecutor(max_workers=4, thread_name_prefix="load-mirror")
        self._mirror_http = client(timeout)
        self.copies_submitted = 0  # mirror copies handed to the pool (sent or cancelled)
        self._copies_lock = threading.Lock()
        self.started_at: float | None = None

    def set_pool(self, track: str, pool: ApplicantPool) -> None:
        """Switch a track (or ``*``) to other applicants, e.g. drifted ones, mid-run."""
        self.pools[track] = pool

    def start(self, duration: float | None = None) -> LoadGenerator:
        self.started_at = time.time()
        for i in range(self.workers):
            self._spawn(self._work, f"load-{i}")
        self._spawn(lambda: self._dispatch(duration), "load-dispatch")
        return self

    def stop(self) -> LoadStats:
        self._stopping.set()
        for _ in self._threads:
            try:
                self._ticks.put_nowait(False)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(timeout=self.timeout + 2)
        self._mirrors.shutdown(wait=True, cancel_futures=True)  # queued copies dropped
        self._mirror_http.close()
        return self.stats

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _dispatch(self, duration: float | None) -> None:
        start = time.monotonic()
        sent = 0
        while not self._stopping.is_set():
            now = time.monotonic()
            if duration is not None and now - start >= duration:
                break
            due = start + sent / self.rate
            if due > now:
                self._stopping.wait(due - now)
                continue
            sent += 1
            try:
                self._ticks.put_nowait(True)
            except queue.Full:
                self.stats.skipped += 1

    def _work(self) -> None:
        with client(self.timeout) as http:
            while True:
                try:
                    tick = self._ticks.get(timeout=0.5)
                except queue.Empty:
                    if self._stopping.is_set():
                        return
                    continue
                if not tick:
                    return
                self._send(http)

    def _send(self, http: httpx.Client) -> None:
        backends = self.routes.backends()
        backend = self.picker.pick(backends)
        if backend is None:
            self.stats.record("none", None, "no_route")
            return
        address = self.picker.address(backend)
        if address is None:
            self.stats.record(backend.track, None, "no_endpoints")
            return
        body = self.pools.get(backend.track, self.pools["*"]).next()
        try:
            response = http.post(f"http://{address}{self.path}", json=body)
            reason = None if response.is_success else f"http_{response.status_code}"
        except httpx.TimeoutException:
            reason = "timeout"
        except httpx.ConnectError:
            reason = "connect"
        except httpx.HTTPError:  # the connection broke after it was made
            reason = "disconnected"
        self.stats.record(backend.track, address, reason)
        for target in backends:
            if target is not backend and self.picker.mirror(target):
                self._copy(target, body)

    def _copy(self, backend: Backend, body: Any) -> None:
        """Send the same applicant to a mirror backend; its answer is discarded."""
        address = self.picker.address(backend)
        if address is None:
            self.stats.record_mirror(backend.track, False)
            return
        with contextlib.suppress(RuntimeError):  # stopping: the pool takes no more copies
            self._mirrors.submit(self._mirror_post, backend.track, address, body)
            with self._copies_lock:
                self.copies_submitted += 1

    def _mirror_post(self, track: str, address: str, body: Any) -> None:
        try:
            response = self._mirror_http.post(f"http://{address}{self.path}", json=body)
            ok = response.is_success
        except httpx.HTTPError:
            ok = False
        self.stats.record_mirror(track, ok)
