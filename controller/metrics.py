"""The controller's own Prometheus metrics (served on ``CONTROLLER_METRICS_PORT``)."""

from __future__ import annotations

import threading
from collections import Counter as CounterOf

from prometheus_client import Counter, Gauge, Histogram

from controller.status import Phase

ROLLOUTS = Gauge("modelrollout_controller_rollouts", "ModelRollouts by phase", ["phase"])
ANALYSES = Counter(
    "modelrollout_controller_analyses_total", "Canary analyses by verdict", ["verdict", "reason"]
)
TRANSITIONS = Counter(
    "modelrollout_controller_transitions_total", "Phase transitions by new phase", ["phase"]
)
ACTIONS = Counter("modelrollout_controller_actions_total", "Actions applied by type", ["action"])
WEBHOOK_CALLS = Counter(
    "modelrollout_controller_webhook_calls_total",
    "Webhook calls (each up to 1 + retries attempts) by hook type and outcome (ok, failed)",
    ["type", "outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "modelrollout_controller_webhook_attempts_total",
    "HTTP attempts of webhook calls, retries included, by hook type",
    ["type"],
)
NOTIFICATIONS = Counter(
    "modelrollout_controller_notifications_total",
    "Phase-transition notifications by channel (slack, teams, webhook) and outcome "
    "(sent, failed, dropped)",
    ["channel", "outcome"],
)
IDLE_TICKS = Counter(
    "modelrollout_controller_idle_ticks_total",
    "Ticks skipped without a reconcile: finished ModelRollouts that nothing could make "
    "act, and Progressing ones whose next analysis is not due yet",
)
CACHE_READS = Counter(
    "modelrollout_controller_cache_reads_total",
    "Reads of watched kinds by resource and result (hit: from the watch-fed cache; miss: GET)",
    ["resource", "result"],
)
EVENTS = Counter(
    "modelrollout_controller_events_total",
    "Kubernetes Events by outcome (posted, failed, dropped: the queue was full)",
    ["outcome"],
)
RECONCILE = Histogram(
    "modelrollout_controller_reconcile_seconds",
    "Duration of one reconcile",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class PhaseBook:
    """Last known phase per ModelRollout uid, mirrored into the ROLLOUTS gauge."""

    def __init__(self) -> None:
        self._phases: dict[str, Phase] = {}
        self._counts: CounterOf[Phase] = CounterOf()
        self._lock = threading.Lock()

    def set(self, uid: str, phase: Phase | None) -> None:
        """O(1): only the old and the new phase's counts change."""
        with self._lock:
            old = self._phases.pop(uid, None) if phase is None else self._phases.get(uid)
            if phase is not None:
                self._phases[uid] = phase
            if old is phase:
                return
            for each, step in ((old, -1), (phase, 1)):
                if each is not None:
                    self._counts[each] += step
            for each in Phase:
                ROLLOUTS.labels(each.value).set(self._counts[each])


PHASES = PhaseBook()
