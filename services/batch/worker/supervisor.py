"""The batch worker: an rq ``SimpleWorker`` that scores chunk tasks next to a model loaded
once per process, and a supervisor loop that rides out Redis outages.

Dead-worker handling is rq's: a running task holds an entry in the queue's started
registry that expires after ``lease_seconds`` unless renewed; a heartbeat thread renews
it while the task runs. When a worker is killed (SIGKILL, OOM, node loss) the entry
lapses, and the next maintenance pass of any worker (every
``maintenance_interval_seconds``) retries the task or, with no retries left, fails it.
A task taken off the queue by a worker that died (or lost Redis) before starting it is
retried the same way once it has waited a lease. Maintenance also restores jobs Redis
lost and deletes expired results.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from loguru import logger
from rq.callbacks import execute_failure_callback
from rq.exceptions import AbandonedJobError
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker, WorkerStatus

from services.batch.state.backend import Backend
from services.batch.state.jobs import restore_all
from services.batch.state.queue import SERIALIZER, TaskJob
from services.core.registry import use_service_client_defaults


class Heartbeat(threading.Thread):
    """Renew a running task's lease every ``interval`` seconds until stopped."""

    def __init__(self, worker: ChunkWorker, job: Job, execution: Execution, interval: float):
        super().__init__(name="task-lease", daemon=True)
        self.worker, self.job, self.execution, self.interval = worker, job, execution, interval
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                self.worker.maintain_heartbeats(self.job, self.execution)
            except Exception as exc:  # Redis down: the task fails on its own next call
                logger.warning("lease renewal of task {} failed: {}", self.job.id, exc)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)


def utcnow() -> datetime:
    return datetime.now(UTC)


class ChunkWorker(SimpleWorker):
    max_connection_wait_time = 10.0  # longest wait between reconnection attempts (seconds)

    def __init__(self, *args: Any, backend: Backend, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backend = backend
        self.lease_seconds = backend.settings.lease_seconds
        self.stop_requested = False

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.lease_seconds

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        beat = Heartbeat(self, job, execution, max(1.0, self.lease_seconds / 3))
        beat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            beat.stop()
        self.set_state(WorkerStatus.IDLE)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            self.rescue_taken_tasks()
            restore_all(self.backend)
            purged = self.backend.storage.purge_expired()
            if purged:
                logger.info("deleted {} expired job(s) from storage", len(purged))
        except Exception as exc:
            logger.warning("batch maintenance failed: {}", exc)

    def rescue_taken_tasks(self) -> None:
        """Retry tasks a worker took off the queue but never started (it died, or lost
        Redis, in between), like any abandoned task: once they have been seen for a
        lease with no running execution. (rq itself rescues them only a minute after it
        notices them, whatever the lease.) One worker per maintenance interval does
        this: a lock that simply expires."""
        queue = self.backend.enqueuer.queue
        lock = f"{self.backend.settings.key_prefix}:rescue-lock"
        hold = max(self.backend.settings.maintenance_interval_seconds - 1, 1)
        if not self.connection.set(lock, self.name, nx=True, ex=hold):
            return
        taken = queue.intermediate_queue
        started = set(queue.started_job_registry.get_job_ids(cleanup=False))
        for task_id in taken.get_job_ids():
            if taken.set_first_seen(task_id) or task_id in started:
                continue  # just noticed, or its execution has not lapsed yet
            first_seen = taken.get_first_seen(task_id)
            if first_seen is None or (utcnow() - first_seen).total_seconds() < self.lease_seconds:
                continue
            task = queue.fetch_job(task_id)
            if task is not None:
                logger.warning("task {} was taken off the queue but never started", task_id)
                abandoned = (AbandonedJobError, AbandonedJobError(), None)
                execute_failure_callback(task, self.death_penalty_class, *abandoned)
                self.handle_job_failure(task, queue, exc_string="taken but never started")
            taken.remove(task_id)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)


def make_worker(backend: Backend, name: str) -> ChunkWorker:
    s = backend.settings
    return ChunkWorker(
        [backend.enqueuer.queue],
        connection=backend.redis,
        name=name,
        backend=backend,
        maintenance_interval=s.maintenance_interval_seconds,
        worker_ttl=s.worker_ttl_seconds,
        serializer=SERIALIZER,
        job_class=TaskJob,
    )


def supervise(backend: Backend, name: str, burst: bool = False, log_level: str = "INFO") -> int:
    """Run workers until stopped (or, in burst mode, until the queue is empty), starting a
    fresh one whenever Redis trouble ends the current one."""
    use_service_client_defaults()  # registry calls fail in seconds, not minutes
    failures = 0
    for attempt in itertools.count():
        worker: ChunkWorker | None = None
        started = time.monotonic()
        try:
            backend.redis.ping()
            worker = make_worker(backend, f"{name}-{attempt}")
            worker.work(burst=burst, with_scheduler=True, logging_level=log_level)
        except Exception as exc:
            logger.error("worker stopped: Redis at {} unavailable ({})", backend.target, exc)
        if worker is not None and worker.stop_requested:
            return 0
        if burst and _queue_empty(backend):
            return 0
        failures = 0 if time.monotonic() - started > 60 else failures + 1
        delay = min(2.0**failures, 30.0)
        logger.warning("restarting the worker in {:.0f} s", delay)
        time.sleep(delay)
    return 1  # unreachable: itertools.count() never ends


def _queue_empty(backend: Backend) -> bool:
    try:
        return backend.enqueuer.queue.count == 0
    except Exception:
        return False
