"""Prometheus series of the decision record (in the registry the service exposes)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


class DecisionMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else REGISTRY
        self.recorded = Counter(
            "decisions_recorded", "Decisions written to PostgreSQL (replays included)", registry=reg
        )
        self.duplicates = Counter(
            "decisions_duplicates_skipped",
            "Decisions whose key was already stored (a re-scored chunk, a replay)",
            registry=reg,
        )
        self.spooled = Counter(
            "decisions_spooled", "Decisions written to the on-disk spool (outage)", registry=reg
        )
        self.replayed = Counter(
            "decisions_replayed", "Spooled decisions replayed into PostgreSQL", registry=reg
        )
        self.lost = Counter(
            "decisions_lost",
            "Decisions that could not be kept (spool full, memory queue full, shutdown "
            "timeout, error); each loss is also logged",
            ["reason"],
            registry=reg,
        )
        self.spool_bytes = Gauge(
            "decisions_spool_bytes", "Size of the on-disk spool (bytes)", registry=reg
        )
        self.queue_rows = Gauge(
            "decisions_queue_rows", "Decisions in memory awaiting a write", registry=reg
        )
        self.database_up = Gauge(
            "decisions_database_up", "1 if the last write to PostgreSQL succeeded", registry=reg
        )
        for reason in ("spool_full", "queue_full", "shutdown", "error"):
            self.lost.labels(reason)
