"""Kubernetes Events about a ModelRollout (core/v1, as ``kubectl describe`` shows them),
and the queue that posts them in the background."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import zlib
from datetime import UTC, datetime
from typing import Any

from loguru import logger

import controller.metrics as own_metrics
from controller import GROUP, KIND, VERSION
from controller.kube import EVENTS, Kube

Obj = dict[str, Any]

COMPONENT = "modelrollout-controller"


def event(
    rollout: dict[str, Any], kind: str, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    meta = rollout["metadata"]
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    involved = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": involved,
        "type": kind,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT, "host": socket.gethostname()},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class EventQueue:
    """Events posted off the reconcile's critical path: a few threads, each with a bounded
    queue; the Events of one ModelRollout go to the same thread, so they keep their order.
    A full queue drops the Event (counted, logged); a failed post is logged, never retried:
    neither blocks nor fails a reconcile."""

    def __init__(self, kube: Kube, threads: int = 4, capacity: int = 256) -> None:
        self.kube = kube
        self._queues: list[queue.Queue[tuple[str, Obj] | None]] = [
            queue.Queue(maxsize=capacity) for _ in range(threads)
        ]
        self._threads: list[threading.Thread] = []
        self._closed = False  # set by ``stop``: later posts are dropped (counted)

    def start(self) -> EventQueue:
        for index, q in enumerate(self._queues):
            thread = threading.Thread(
                target=self._work, args=(q,), name=f"events-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def post(self, namespace: str, body: Obj) -> bool:
        involved = body.get("involvedObject") or {}
        shard = zlib.crc32(f"{namespace}/{involved.get('name')}".encode()) % len(self._queues)
        try:
            if self._closed:
                raise queue.Full
            self._queues[shard].put_nowait((namespace, body))
        except queue.Full:
            own_metrics.EVENTS.labels("dropped").inc()
            logger.warning(
                "event {} on {}/{} dropped: {}",
                body.get("reason"),
                namespace,
                involved.get("name"),
                "operator stopping" if self._closed else "queue full",
            )
            return False
        return True

    def _work(self, q: queue.Queue[tuple[str, Obj] | None]) -> None:
        while True:
            item = q.get()
            try:
                if item is None:
                    return
                namespace, body = item
                try:
                    self.kube.create(EVENTS, namespace, body)
                    own_metrics.EVENTS.labels("posted").inc()
                except Exception as exc:  # an Event is best effort
                    own_metrics.EVENTS.labels("failed").inc()
                    logger.warning(
                        "event {} on {}/{} not posted: {}",
                        body.get("reason"),
                        namespace,
                        (body.get("involvedObject") or {}).get("name"),
                        exc,
                    )
            finally:
                q.task_done()

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until every queued Event is posted (or failed); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while any(q.unfinished_tasks for q in self._queues):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def queued(self) -> int:
        """Events waiting in the queues (not the ones being posted)."""
        return sum(q.qsize() for q in self._queues)

    def stop(self, timeout: float = 5.0) -> int:
        """Post what is queued, within ``timeout`` seconds in all; returns how many Events
        were dropped. New posts are refused from now on; each thread ends after its queue
        is empty. At the bound, what is still queued is dropped, counted
        (``modelrollout_controller_events_total{outcome="dropped"}``) and logged; an
        Event being posted at that moment finishes or fails on its daemon thread."""
        self._closed = True
        deadline = time.monotonic() + max(0.0, timeout)
        waiting = self.queued()
        for q in self._queues:
            with contextlib.suppress(queue.Full):
                q.put(None, timeout=max(0.0, deadline - time.monotonic()))
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        dropped = 0
        for q in self._queues:
            while True:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                q.task_done()
                dropped += item is not None
            with contextlib.suppress(queue.Full):
                q.put_nowait(None)  # a thread still posting ends after its post
        if dropped:
            own_metrics.EVENTS.labels("dropped").inc(dropped)
            logger.warning(
                "events at shutdown: {} queued, {} dropped after {:g} s", waiting, dropped, timeout
            )
        elif waiting:
            logger.info("events at shutdown: {} queued, all handed to the API", waiting)
        self._threads = [t for t in self._threads if t.is_alive()]
        return dropped
