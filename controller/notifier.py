"""Deliver phase-transition notifications off the reconcile path.

``Notifier.notify`` only puts the transition on a bounded queue (full: dropped and
counted); one daemon thread reads the notifications Secret (``resolve``: in the operator,
``secrets.secret_data`` through the API), renders each configured
channel and POSTs it, at most ``per_minute`` messages a minute over all channels (a token
bucket with ``burst`` tokens: a burst of transitions is delayed, not lost). One attempt per
message; a failure is logged (without the URL) and counted in
``modelrollout_controller_notifications_total{outcome="failed"}``; nothing reaches the
rollout.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from loguru import logger

import controller.metrics as own_metrics
from controller.notifications import CHANNELS, RENDER, Transition
from controller.secrets import SecretError

Resolve = Callable[[str, str], Mapping[str, bytes]]  # (namespace, Secret) -> its keys


class TokenBucket:
    """``burst`` tokens, refilled at ``per_minute`` a minute; ``take`` returns the seconds
    to wait before a token is free (0: one was taken)."""

    def __init__(self, per_minute: float, burst: int, now: float) -> None:
        self.rate, self.burst = per_minute / 60.0, float(burst)
        self.tokens, self.last = float(burst), now

    def take(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Item:
    secret: str  # name of the Secret in the transition's namespace
    transition: Transition


class Notifier:
    def __init__(
        self,
        resolve: Resolve,
        per_minute: float = 30,
        burst: int = 10,
        capacity: int = 100,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.resolve, self.timeout = resolve, timeout
        self.client = client or httpx.Client(follow_redirects=False)
        self.clock, self.sleep = clock, sleep
        self.bucket = TokenBucket(per_minute, burst, clock())
        self.queue: queue.Queue[Item | None] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def notify(self, secret: str, transition: Transition) -> bool:
        """Queue one transition (never blocks); False when the queue is full (dropped)."""
        self._ensure_started()
        try:
            self.queue.put_nowait(Item(secret, transition))
            return True
        except queue.Full:
            own_metrics.NOTIFICATIONS.labels("all", "dropped").inc()
            logger.warning(
                "notification queue full: {}/{} {} not sent",
                transition.namespace,
                transition.name,
                transition.to_phase,
            )
            return False

    def _ensure_started(self) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
                self._thread.start()

    def drain(self) -> None:
        """Wait until every queued notification was handled (tests, shutdown)."""
        self.queue.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                self.deliver(item)
            except Exception as exc:  # the thread must outlive any one message
                logger.warning("notification not delivered: {}", type(exc).__name__)
            finally:
                self.queue.task_done()

    def deliver(self, item: Item) -> None:
        t = item.transition
        try:
            urls = self.resolve(t.namespace, item.secret)
        except SecretError as exc:
            own_metrics.NOTIFICATIONS.labels("all", "failed").inc()
            logger.warning("notifications of {}/{} not sent: {}", t.namespace, t.name, exc)
            return
        for channel in CHANNELS:
            url = urls.get(channel, b"").decode(errors="replace").strip()
            if url:
                self._wait_for_token()
                self._post(channel, url, t)

    def _wait_for_token(self) -> None:
        while (wait := self.bucket.take(self.clock())) > 0:
            self.sleep(wait)

    def _post(self, channel: str, url: str, t: Transition) -> None:
        body = json.dumps(RENDER[channel](t), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        try:
            answer = self.client.post(url, content=body, headers=headers, timeout=self.timeout)
            ok, detail = 200 <= answer.status_code < 300, f"HTTP {answer.status_code}"
        except Exception as exc:  # httpx errors, an invalid URL: only the class is logged
            ok, detail = False, type(exc).__name__
        own_metrics.NOTIFICATIONS.labels(channel, "sent" if ok else "failed").inc()
        if not ok:
            logger.warning(
                "{} notification for {}/{} ({}) failed: {}",
                channel,
                t.namespace,
                t.name,
                t.to_phase,
                detail,
            )
