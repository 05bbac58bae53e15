"""The worker's lease machinery in-process (``services.batch.worker.supervisor``), against
a real Redis: the heartbeat thread that renews a running task's lease, the lease a task
gets, and the rescue of a task taken off the queue but never started.

The worker-subprocess tests (``test_failures.py``, ``test_redis_recovery.py``) show the
same behaviour end to end; these run the code in the test's process, so mutation testing
(``make mutate``) sees them reach it."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from rq import Callback, Queue, Retry
from rq.exceptions import StopRequested
from rq.job import Job, JobStatus

from services.batch.settings import BatchSettings
from services.batch.state.backend import Backend
from services.batch.state.queue import ON_FAILURE, SERIALIZER, TaskJob
from services.batch.state.storage import write_json
from services.batch.worker import supervisor
from services.batch.worker.supervisor import ChunkWorker, Heartbeat, make_worker
from tests.support.batch_jobs import job_manifest
from tests.support.logs import messages_logged
from tests.support.processes import RedisServer, free_port

pytestmark = pytest.mark.integration

RELEASE = threading.Event()  # set by the test: the held task may finish
HELD = f"{__name__}.hold"


def hold() -> str:
    """A task that runs until the test releases it (run in this process by the worker)."""
    if not RELEASE.wait(120):
        raise TimeoutError("the test never released the held task")
    return "released"


def backend_for(redis: RedisServer, tmp_path: Path, **overrides: Any) -> Backend:
    options: dict[str, Any] = {
        "redis_url": redis.url,
        "model_uri": str(tmp_path / "no-model"),
        "storage_dir": tmp_path / "store",
        "maintenance_interval_seconds": 5,
        "log_json": False,
        **overrides,
    }
    return Backend.connect(BatchSettings(**options))


class Renewals:
    """Stands in for the worker in ``Heartbeat``: counts its lease renewals; the first
    fails, as when Redis is briefly unreachable."""

    def __init__(self, wanted: int) -> None:
        self.calls: list[tuple[object, object]] = []
        self.enough = threading.Event()
        self.wanted = wanted

    def maintain_heartbeats(self, job: object, execution: object) -> None:
        self.calls.append((job, execution))
        if len(self.calls) >= self.wanted:
            self.enough.set()
        if len(self.calls) == 1:
            raise ConnectionError("redis unreachable")


class FakeJob:
    id = "task-7"


def test_the_heartbeat_renews_until_stopped_and_outlives_a_failed_renewal() -> None:
    renewals, job, execution = Renewals(wanted=3), FakeJob(), object()
    beat = Heartbeat(renewals, job, execution, 0.01)  # type: ignore[arg-type]
    assert beat.name == "task-lease"
    assert beat.daemon  # never holds the process up
    assert beat.interval == 0.01
    with messages_logged("WARNING") as warnings:
        beat.start()
        assert renewals.enough.wait(30), "the heartbeat renewed fewer than 3 times in 30 s"
        beat.stop()
    assert not beat.is_alive()
    assert beat.done.is_set()
    assert all(call == (job, execution) for call in renewals.calls)
    assert warnings[0] == "lease renewal of task task-7 failed: redis unreachable"


def test_a_heartbeat_that_is_never_stopped_waits_its_interval_first() -> None:
    renewals = Renewals(wanted=1)
    beat = Heartbeat(renewals, FakeJob(), object(), 3600)  # type: ignore[arg-type]
    beat.start()
    try:
        assert not renewals.enough.wait(0.2)  # the first renewal comes after an interval
    finally:
        beat.stop()
    assert renewals.calls == []


def started_expiry(queue: Queue, task_id: str) -> float | None:
    """When the lease of the running ``task_id`` lapses (epoch seconds), None if it has
    no running execution."""
    registry = queue.started_job_registry
    entries: list[tuple[bytes, float]] = queue.connection.zrange(  # type: ignore[assignment]
        registry.key, 0, -1, withscores=True
    )
    for member, score in entries:
        if member.decode().split(":", 1)[0] == task_id:
            return float(score)
    return None


def test_a_task_running_for_several_leases_keeps_its_lease(
    redis: RedisServer, tmp_path: Path
) -> None:
    """The lease (3 s) is renewed every second while the task runs: its expiry moves on,
    and never falls behind the clock (a renewal late by 2 s would be needed for that),
    until it has moved 4 s past the first: the task has run for longer than its lease."""
    backend = backend_for(redis, tmp_path, lease_seconds=3)
    queue = Queue("lease-test", connection=backend.redis, serializer=SERIALIZER)
    worker = ChunkWorker(
        [queue], connection=backend.redis, name="lease-w", backend=backend, serializer=SERIALIZER
    )
    assert worker.get_heartbeat_ttl(Job(id="x", connection=backend.redis)) == 3
    task = queue.enqueue(HELD, job_id="held-1")
    seen: list[float] = []
    lapsed: list[tuple[float, float]] = []
    RELEASE.clear()

    def watch() -> None:
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                expiry = started_expiry(queue, "held-1")
                if expiry is not None:
                    if expiry < time.time() - 1.0:
                        lapsed.append((expiry, time.time()))
                    if not seen or expiry > seen[-1]:
                        seen.append(expiry)
                    if len(seen) >= 4 and seen[-1] - seen[0] >= 4:
                        return  # renewed past the first lease
                time.sleep(0.05)
        finally:
            RELEASE.set()

    watcher = threading.Thread(target=watch, name="lease-watch", daemon=True)
    watcher.start()
    worker.work(burst=True, max_jobs=1)
    watcher.join(timeout=70)
    assert not watcher.is_alive(), "the watcher did not finish"
    assert len(seen) >= 4, f"the lease was renewed {len(seen) - 1} times: {seen}"
    assert seen[-1] - seen[0] >= 4
    assert not lapsed, lapsed
    task.refresh()
    assert task.get_status() == JobStatus.FINISHED
    assert task.return_value() == "released"


@pytest.mark.parametrize(("lease", "interval"), [(2, 1.0), (3, 1.0), (9, 3.0)])
def test_a_running_task_is_renewed_every_third_of_its_lease_at_most_every_second(
    redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lease: int, interval: float
) -> None:
    backend = backend_for(redis, tmp_path, lease_seconds=lease)
    queue = Queue("interval-test", connection=backend.redis, serializer=SERIALIZER)
    worker = ChunkWorker(
        [queue], connection=backend.redis, name="int-w", backend=backend, serializer=SERIALIZER
    )
    beats: list[Heartbeat] = []

    class Recorded(Heartbeat):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            beats.append(self)

    monkeypatch.setattr(supervisor, "Heartbeat", Recorded)
    RELEASE.set()  # the task finishes at once
    task = queue.enqueue(HELD, job_id=f"quick-{lease}")
    worker.work(burst=True, max_jobs=1)
    assert [b.interval for b in beats] == [interval]
    beat = beats[0]
    assert beat.worker is worker
    assert beat.job.id == task.id
    assert beat.execution is not None
    assert beat.execution.job_id == task.id
    assert beat.done.is_set()  # stopped when the task ended
    assert not beat.is_alive()
    task.refresh()
    assert task.get_status() == JobStatus.FINISHED


def taken_task(backend: Backend, task_id: str, retries: int) -> Queue:
    """A task a worker took off the queue (into rq's intermediate list) and never started."""
    queue = backend.enqueuer.queue
    plain = Queue(queue.name, connection=backend.redis, serializer=SERIALIZER)
    plain.enqueue(HELD, job_id=task_id, retry=Retry(max=retries) if retries else None)
    moved = backend.redis.lmove(queue.key, queue.intermediate_queue_key)
    assert moved == task_id.encode()
    return queue


def seen_long_ago(queue: Queue, task_id: str, seconds: float) -> None:
    taken = queue.intermediate_queue
    then = datetime.now(UTC) - timedelta(seconds=seconds)
    queue.connection.set(taken.get_first_seen_key(task_id), then.timestamp())


def test_a_task_taken_but_never_started_is_retried_once_seen_for_a_lease(
    redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_for(redis, tmp_path, lease_seconds=30)
    queue = taken_task(backend, "taken-1", retries=2)
    taken = queue.intermediate_queue
    worker = make_worker(backend, "rescuer")
    lock = f"{backend.settings.key_prefix}:rescue-lock"

    worker.rescue_taken_tasks()  # first sighting: noted, not rescued
    assert taken.get_job_ids() == ["taken-1"]
    assert taken.get_first_seen("taken-1") is not None
    assert backend.redis.get(lock) == b"rescuer"
    assert 3000 < backend.redis.pttl(lock) <= 4000  # held for an interval less a second

    seen_long_ago(queue, "taken-1", 60)
    worker.rescue_taken_tasks()  # another worker's pass this interval: the lock says no
    assert taken.get_job_ids() == ["taken-1"]

    backend.redis.delete(lock)
    seen_long_ago(queue, "taken-1", 20)  # seen, but for less than a lease
    worker.rescue_taken_tasks()
    assert taken.get_job_ids() == ["taken-1"]

    backend.redis.delete(lock)
    seen_long_ago(queue, "taken-1", 31)
    with messages_logged("WARNING") as warnings:
        worker.rescue_taken_tasks()
    assert taken.get_job_ids() == []
    assert "task taken-1 was taken off the queue but never started" in warnings
    task = queue.fetch_job("taken-1")
    assert task is not None
    assert task.get_status() == JobStatus.QUEUED  # retried
    assert task.retries_left == 1
    assert queue.get_job_ids() == ["taken-1"]


def test_a_rescued_task_s_failure_callback_hears_it_was_abandoned(
    redis: RedisServer, tmp_path: Path
) -> None:
    """A batch task's own failure callback (``on_task_failure``) is run for a rescued task
    as for any abandoned one: with the worker's death penalty and the abandonment's
    exception info (with retries left it warns, naming the chunk, the job and the error)."""
    backend = backend_for(redis, tmp_path, lease_seconds=30)
    queue = backend.enqueuer.queue
    plain = Queue(queue.name, connection=backend.redis, serializer=SERIALIZER)
    plain.enqueue(
        HELD, "job-9", 3, job_id="taken-9", retry=Retry(max=2), on_failure=Callback(ON_FAILURE)
    )
    assert backend.redis.lmove(queue.key, queue.intermediate_queue_key) == b"taken-9"
    seen_long_ago(queue, "taken-9", 31)
    with messages_logged("WARNING") as warnings:
        make_worker(backend, "rescuer-9").rescue_taken_tasks()
    assert "chunk 3 of job job-9 failed (AbandonedJobError), 2 retries left" in warnings
    task = queue.fetch_job("taken-9")
    assert task is not None
    assert task.get_status() == JobStatus.QUEUED
    assert task.retries_left == 1


def test_a_taken_task_with_no_retries_left_fails_and_a_running_one_is_left_alone(
    redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_for(redis, tmp_path, lease_seconds=30, maintenance_interval_seconds=1)
    queue = taken_task(backend, "taken-2", retries=0)
    worker = make_worker(backend, "rescuer-2")
    lock = f"{backend.settings.key_prefix}:rescue-lock"
    seen_long_ago(queue, "taken-2", 31)
    worker.rescue_taken_tasks()
    assert 0 < backend.redis.pttl(lock) <= 1000  # never less than a second
    assert queue.intermediate_queue.get_job_ids() == []
    task = queue.fetch_job("taken-2")
    assert task is not None
    assert task.get_status() == JobStatus.FAILED
    result = task.latest_result()
    assert result is not None
    assert result.exc_string == "taken but never started"

    # a task whose execution is still running (its lease has not lapsed) stays taken
    backend.redis.delete(lock)
    queue = taken_task(backend, "taken-3", retries=2)
    seen_long_ago(queue, "taken-3", 31)
    # its execution's lease has lapsed: rq's own maintenance handles that one, not this pass
    backend.redis.zadd(queue.started_job_registry.key, {"taken-3:exec-1": time.time() - 60})
    worker.rescue_taken_tasks()
    assert queue.intermediate_queue.get_job_ids() == ["taken-3"]
    fetched = queue.fetch_job("taken-3")
    assert fetched is not None
    assert fetched.retries_left == 2


def test_a_task_gone_from_redis_is_dropped_from_the_taken_list(
    redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_for(redis, tmp_path, lease_seconds=30)
    queue = taken_task(backend, "taken-4", retries=2)
    backend.redis.delete(Job.key_for("taken-4"))  # its hash lost (expired, or deleted)
    seen_long_ago(queue, "taken-4", 31)
    make_worker(backend, "rescuer-4").rescue_taken_tasks()
    assert queue.intermediate_queue.get_job_ids() == []


def test_a_stop_signal_ends_supervision_and_an_empty_queue_ends_a_burst(
    redis: RedisServer, tmp_path: Path
) -> None:
    backend = backend_for(redis, tmp_path)
    assert supervisor.supervise(backend, "burst", burst=True) == 0  # nothing queued
    worker = make_worker(backend, "stopping")
    assert worker.stop_requested is False
    assert worker.lease_seconds == backend.settings.lease_seconds
    assert worker.backend is backend
    with pytest.raises(StopRequested):  # rq's: an idle worker stops at once
        worker.request_stop(15, None)
    assert worker.stop_requested is True
    assert supervisor._queue_empty(backend) is True
    backend.enqueuer.queue.connection.lpush(backend.enqueuer.queue.key, "x")
    assert supervisor._queue_empty(backend) is False


class EndOfTest(Exception):
    """Raised by the clock below to end ``supervise``'s restart loop."""


class Clock:
    """``supervise``'s clock and sleep (its module's ``time``): records the back-off
    delays instead of sleeping; ``step`` is how far the clock moves per reading."""

    def __init__(self, sleeps: int, step: float = 0.0) -> None:
        self.delays: list[float] = []
        self.sleeps, self.step, self.now = sleeps, step, 1000.0

    def monotonic(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        if len(self.delays) >= self.sleeps:
            raise EndOfTest


def test_supervise_backs_off_while_redis_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis unreachable: each attempt fails at once, the wait doubles up to 30 s; an
    attempt that had run for over a minute starts the back-off again."""
    port = free_port()  # nothing listens there
    backend = backend_for(RedisServer(tmp_path, port), tmp_path)
    clock = Clock(sleeps=6)
    monkeypatch.setattr(supervisor, "time", clock)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    logged: list[str] = []
    sink = logger.add(lambda m: logged.append(m.record["message"]), level="WARNING")
    try:
        with pytest.raises(EndOfTest):
            supervisor.supervise(backend, "down", burst=True)
    finally:
        logger.remove(sink)
    assert clock.delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert logged[0].startswith(f"worker stopped: Redis at 127.0.0.1:{port} unavailable (")
    assert "refused" in logged[0]  # the error itself, not only that there was one
    assert logged[1] == "restarting the worker in 2 s"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" in os.environ  # registry calls fail in seconds

    slow = Clock(sleeps=3, step=61.0)  # every attempt ran for more than a minute
    monkeypatch.setattr(supervisor, "time", slow)
    with pytest.raises(EndOfTest):
        supervisor.supervise(backend, "down", burst=True)
    assert slow.delays == [1.0, 1.0, 1.0]
    minute = Clock(sleeps=3, step=60.0)  # exactly a minute is not "over a minute"
    monkeypatch.setattr(supervisor, "time", minute)
    with pytest.raises(EndOfTest):
        supervisor.supervise(backend, "down", burst=True)
    assert minute.delays == [2.0, 4.0, 8.0]


def test_supervise_starts_a_fresh_worker_until_stopped_or_the_burst_is_done(
    redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backend_for(redis, tmp_path)
    clock = Clock(sleeps=10)
    monkeypatch.setattr(supervisor, "time", clock)
    started: list[tuple[str, dict[str, Any]]] = []
    ends = iter(["crash", "stop"])

    class Recorded(ChunkWorker):
        def work(self, **kwargs: Any) -> bool:  # type: ignore[override]
            started.append((self.name, kwargs))
            if next(ends) == "crash":
                raise ConnectionError("redis went away")
            self.stop_requested = True  # as a SIGTERM would
            return False

    made = make_worker(backend, "probe")
    monkeypatch.setattr(
        supervisor,
        "make_worker",
        lambda b, name: Recorded(
            made.queues, connection=b.redis, name=name, backend=b, serializer=SERIALIZER
        ),
    )
    assert supervisor.supervise(backend, "w", log_level="DEBUG") == 0
    assert [name for name, _ in started] == ["w-0", "w-1"]
    assert started[0][1] == {"burst": False, "with_scheduler": True, "logging_level": "DEBUG"}
    assert clock.delays == [2.0]  # after the crash, none after the stop

    # a burst ends when its worker is done and the queue is empty, not before
    backend.redis.lpush(backend.enqueuer.queue.key, "left-over")
    ends = iter(["keep", "empty"])

    class Burst(ChunkWorker):
        def work(self, **kwargs: Any) -> bool:  # type: ignore[override]
            started.append((self.name, kwargs))
            if next(ends) == "empty":
                backend.redis.delete(backend.enqueuer.queue.key)
            return True

    monkeypatch.setattr(
        supervisor,
        "make_worker",
        lambda b, name: Burst(made.queues, connection=b.redis, name=name, backend=b),
    )
    started.clear()
    clock.delays.clear()
    assert supervisor.supervise(backend, "b", burst=True) == 0
    assert [name for name, _ in started] == ["b-0", "b-1"]  # the first left a task queued
    assert started[0][1] == {"burst": True, "with_scheduler": True, "logging_level": "INFO"}
    assert clock.delays == [2.0]


def test_one_pass_looks_at_every_taken_task(redis: RedisServer, tmp_path: Path) -> None:
    """A task just noticed, or seen for less than a lease, does not stop the pass from
    rescuing the tasks after it."""
    backend = backend_for(redis, tmp_path, lease_seconds=30)
    lock = f"{backend.settings.key_prefix}:rescue-lock"
    worker = make_worker(backend, "rescuer-5")
    queue = taken_task(backend, "fresh", retries=2)
    taken_task(backend, "lapsed", retries=2)
    seen_long_ago(queue, "lapsed", 31)
    assert queue.intermediate_queue.get_job_ids() == ["fresh", "lapsed"]
    worker.rescue_taken_tasks()
    assert queue.intermediate_queue.get_job_ids() == ["fresh"]
    assert queue.get_job_ids() == ["lapsed"]  # retried
    backend.redis.delete(queue.key)
    taken_task(backend, "lapsed-2", retries=2)
    seen_long_ago(queue, "fresh", 20)
    seen_long_ago(queue, "lapsed-2", 31)
    backend.redis.delete(lock)
    worker.rescue_taken_tasks()
    assert queue.intermediate_queue.get_job_ids() == ["fresh"]


def test_the_worker_is_made_from_the_settings(redis: RedisServer, tmp_path: Path) -> None:
    backend = backend_for(redis, tmp_path, maintenance_interval_seconds=7, worker_ttl_seconds=40)
    worker = make_worker(backend, "made")
    assert worker.name == "made"
    assert worker.connection is backend.redis
    assert worker.queues == [backend.enqueuer.queue]
    assert worker.maintenance_interval == 7
    assert worker.worker_ttl == 40
    assert worker.serializer is SERIALIZER
    assert worker.job_class is TaskJob


def test_maintenance_restores_lost_jobs_purges_expired_ones_and_survives_a_fault(
    redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backend_for(redis, tmp_path)
    storage = backend.storage
    expired = storage.job("e" * 32)
    write_json(expired.manifest, job_manifest("e" * 32).model_dump())
    expired.write_final("succeeded", ttl=0)
    lost = storage.job("f" * 32)
    write_json(lost.manifest, job_manifest("f" * 32).model_dump())
    lost.write_final("failed", ttl=600)
    worker = make_worker(backend, "maint")
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(m.record["message"]), level="INFO")
    try:
        worker.run_maintenance_tasks()
        assert "deleted 1 expired job(s) from storage" in messages
        assert not [m for m in messages if "maintenance failed" in m]
        assert backend.redis.exists(backend.store.job_key("f" * 32))  # restored
        assert not expired.manifest.exists()

        def broken(*_: object) -> list[str]:
            raise OSError("storage gone")

        monkeypatch.setattr(storage, "purge_expired", broken)
        messages.clear()
        worker.run_maintenance_tasks()  # logged, not raised: the worker carries on
        assert "batch maintenance failed: storage gone" in messages
    finally:
        logger.remove(sink)
