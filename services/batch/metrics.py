"""Prometheus metrics.

Workers count what they do (rows scored, chunk latency, chunks by outcome) in their own
process registry, served on ``worker_metrics_port``. The job API reads the shared state at
scrape time: jobs that entered each state, active jobs, rows scored by all workers, queue
depth by task status and live workers. Every API replica reports the same global figures
(aggregate them with ``max``, not ``sum``).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from rq import Queue
from rq.worker_registration import get_keys

from services.batch.domain import ChunkSummary, JobState
from services.batch.state.store import RedisJobStore

CHUNK_SECONDS = Histogram(
    "batch_chunk_seconds",
    "Time to read, validate, score and write one chunk (seconds)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
WORKER_ROWS = Counter("batch_worker_rows_scored", "Rows scored by this worker process")
WORKER_CHUNKS = Counter("batch_worker_chunks", "Chunk tasks handled by this worker", ["outcome"])


def observe_chunk(summary: ChunkSummary | None, outcome: str) -> None:
    WORKER_CHUNKS.labels(outcome).inc()
    if summary is not None and not summary.skipped:
        CHUNK_SECONDS.observe(summary.seconds)
        WORKER_ROWS.inc(summary.rows)


class QueueCollector(Collector):
    """Global batch figures, read from Redis at each scrape."""

    def __init__(self, store: RedisJobStore, queue: Queue, recent: int = 1000) -> None:
        self.store = store
        self.queue = queue
        self.recent = recent

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("batch_redis_up", "1 if the job store (Redis) answers")
        try:
            metrics = list(self._collect())
        except Exception:  # an unreachable Redis must not break the scrape
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _collect(self) -> Iterator[Metric]:
        stats = self.store.stats()
        entered = CounterMetricFamily(
            "batch_jobs", "Jobs that entered each state", labels=["state"]
        )
        for state in JobState:
            entered.add_metric([state.value], stats.get(f"entered:{state.value}", 0))
        yield entered
        yield CounterMetricFamily(
            "batch_rows_scored", "Rows scored by all workers", value=stats.get("rows_scored", 0)
        )
        active = GaugeMetricFamily(
            "batch_jobs_active", "Recent jobs by current state", labels=["state"]
        )
        states = [record.get("state") for _, record in self.store.recent(self.recent)]
        for state in JobState:
            active.add_metric([state.value], states.count(state.value))
        yield active
        yield self._tasks()
        workers = GaugeMetricFamily("batch_workers", "Live workers on the batch queue")
        keys = list(get_keys(queue=self.queue))
        alive = sum(self.queue.connection.exists(k) for k in keys) if keys else 0
        workers.add_metric([], alive)
        yield workers

    def _tasks(self) -> Metric:
        q = self.queue
        depth = GaugeMetricFamily("batch_queue_depth", "Chunk tasks by status", labels=["status"])
        depth.add_metric(["queued"], q.count)
        for name, registry in (
            ("started", q.started_job_registry),
            ("scheduled", q.scheduled_job_registry),
            ("failed", q.failed_job_registry),
        ):
            depth.add_metric([name], registry.get_job_count(cleanup=False))
        return depth


def api_registry(store: RedisJobStore, queue: Queue) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(QueueCollector(store, queue))
    return registry
