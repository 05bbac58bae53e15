"""The batch task queue (``services.batch.state.queue``) and ``Backend``, in-process
against a real Redis: the tasks the API queues (ids, retries, time limits, the failure
callback), and a worker refusing a task hash that names other code or other callbacks.
(The worker-subprocess tests run these tasks end to end; these run the code in the test's
process, so mutation testing sees it.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Callback, Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from services.batch.settings import BatchSettings
from services.batch.state.backend import Backend
from services.batch.state.queue import (
    ON_FAILURE,
    SCORE_CHUNK,
    SPLIT_JOB,
    TASK_RESULT_TTL,
    Enqueuer,
    RefusedTask,
    TaskJob,
    chunk_task_id,
    split_task_id,
    task_queue,
)
from services.batch.worker.tasks import on_task_failure, score_chunk, split_job
from tests.support.logs import messages_logged
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

JOB = "a" * 32


def settings_for(redis: RedisServer, tmp_path: Path, **overrides: Any) -> BatchSettings:
    options: dict[str, Any] = {
        "redis_url": redis.url,
        "model_uri": str(tmp_path / "no-model"),
        "storage_dir": tmp_path / "store",
        "log_json": False,
        **overrides,
    }
    return BatchSettings(**options)


def queued(redis_client: Redis, name: str = "batch") -> list[Job]:
    """The tasks on the queue, read back as a worker reads them."""
    queue = task_queue(redis_client, name)
    jobs = [queue.fetch_job(task_id) for task_id in queue.get_job_ids()]
    assert all(job is not None for job in jobs)
    return jobs  # type: ignore[return-value]


def test_task_ids_name_the_job_and_the_chunk() -> None:
    assert chunk_task_id(JOB, 7) == f"{JOB}-c000007"
    assert chunk_task_id(JOB, 1_234_567) == f"{JOB}-c1234567"
    assert split_task_id(JOB) == f"{JOB}-split"


def test_chunk_tasks_are_queued_with_retries_time_limits_and_the_failure_callback(
    redis_client: Redis, redis: RedisServer, tmp_path: Path
) -> None:
    settings = settings_for(
        redis,
        tmp_path,
        queue_name="q1",
        max_retries=2,
        retry_backoff_seconds=[0, 7],
        chunk_timeout_seconds=123,
        result_ttl_seconds=4567,
    )
    enqueuer = Enqueuer(redis_client, settings)
    with redis_client.pipeline() as pipe:
        enqueuer.enqueue_chunks(JOB, [0, 2], pipe)
        enqueuer.enqueue_chunks(JOB, [], pipe)  # nothing to queue
        pipe.execute()
    tasks = queued(redis_client, "q1")
    assert [t.id for t in tasks] == [chunk_task_id(JOB, 0), chunk_task_id(JOB, 2)]
    first = tasks[0]
    assert isinstance(first, TaskJob)
    assert (first.func_name, first.args) == (SCORE_CHUNK, [JOB, 0])
    assert first.func is score_chunk
    assert (first.retries_left, first.retry_intervals) == (2, [0, 7])
    assert (first.timeout, first.result_ttl, first.failure_ttl) == (123, TASK_RESULT_TTL, 4567)
    assert first.failure_callback is on_task_failure
    assert first.description == f"score_chunk('{JOB}', 0)"
    assert first.serializer is JSONSerializer or isinstance(first.serializer, JSONSerializer)
    assert redis_client.type(f"rq:job:{first.id}") == b"hash"
    assert redis_client.hget(f"rq:job:{first.id}", "data") is not None
    assert tasks[1].args == [JOB, 2]


def test_a_split_task_is_queued_whole_and_no_retries_means_none(
    redis_client: Redis, redis: RedisServer, tmp_path: Path
) -> None:
    enqueuer = Enqueuer(redis_client, settings_for(redis, tmp_path, max_retries=0))
    with redis_client.pipeline() as pipe:
        enqueuer.enqueue_split(JOB, pipe)
        pipe.execute()
    (task,) = queued(redis_client)
    assert (task.id, task.func_name, task.args) == (split_task_id(JOB), SPLIT_JOB, [JOB])
    assert task.func is split_job
    assert task.retries_left is None
    assert task.failure_callback is on_task_failure
    assert task.description == f"split_job('{JOB}',)"
    assert task.timeout == 900  # the default chunk time limit


def test_a_task_naming_other_code_is_refused(redis_client: Redis) -> None:
    """Whoever can write to Redis cannot make a worker run code the batch tasks do not."""
    plain = Queue("batch", connection=redis_client, serializer=JSONSerializer)
    plain.enqueue("os.getcwd", job_id="evil")
    plain.enqueue(SCORE_CHUNK, JOB, 0, job_id="ok", on_success=Callback("os.getcwd"))
    (evil, ok) = queued(redis_client)
    with pytest.raises(RefusedTask, match=r"task evil names 'os\.getcwd': not a batch task"):
        evil.func  # noqa: B018
    assert ok.func is score_chunk
    # a batch task name called as a method of some object is refused too
    ok.instance = "a string"
    with pytest.raises(RefusedTask, match=rf"task ok names '{re.escape(SCORE_CHUNK)}'"):
        ok.func  # noqa: B018


def test_callbacks_other_than_the_batch_failure_callback_are_ignored(redis_client: Redis) -> None:
    plain = Queue("batch", connection=redis_client, serializer=JSONSerializer)
    plain.enqueue(
        SCORE_CHUNK,
        JOB,
        0,
        job_id="t1",
        on_success=Callback("os.getcwd"),
        on_failure=Callback("os.abort"),
        on_stopped=Callback("os.getpid"),
    )
    plain.enqueue(SCORE_CHUNK, JOB, 1, job_id="t2", on_failure=Callback(ON_FAILURE))
    plain.enqueue(SCORE_CHUNK, JOB, 2, job_id="t3")
    (t1, t2, t3) = queued(redis_client)
    with messages_logged("WARNING") as messages:
        assert t1.failure_callback is None
        assert t1.success_callback is None
        assert t1.stopped_callback is None
    assert messages == [
        "task t1: ignored failure callback 'os.abort'",
        "task t1: ignored success callback 'os.getcwd'",
        "task t1: ignored stopped callback 'os.getpid'",
    ]
    with messages_logged("WARNING") as messages:
        assert t2.failure_callback is on_task_failure
        assert t3.failure_callback is None
        assert t3.success_callback is None
        assert t3.stopped_callback is None
    assert messages == []


def test_the_backend_connects_everything_to_one_redis_and_one_folder(
    redis: RedisServer, tmp_path: Path
) -> None:
    settings = settings_for(
        redis,
        tmp_path,
        key_prefix="kp",
        queue_name="qn",
        redis_timeout_seconds=1.5,
        input_dirs=[tmp_path / "extra"],
    )
    backend = Backend.connect(settings)
    try:
        assert backend.settings is settings
        assert backend.target == f"127.0.0.1:{redis.port}"
        kwargs = backend.redis.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (1.5, 1.5)
        assert backend.redis.connection_pool.connection_kwargs["health_check_interval"] == 30
        assert backend.store.redis is backend.redis
        assert backend.store.job_key(JOB) == f"kp:job:{JOB}"
        assert backend.enqueuer.queue.name == "qn"
        assert backend.enqueuer.queue.connection is backend.redis
        assert backend.enqueuer.settings is settings
        assert backend.storage.root == tmp_path / "store"
        assert backend.storage.input_dirs == [
            (tmp_path / "store" / "inputs").resolve(),
            (tmp_path / "extra").resolve(),
        ]
        backend.store.ping()
    finally:
        backend.redis.close()
    given = Redis.from_url(redis.url)
    try:
        backend = Backend.connect(settings, given)
        assert backend.redis is given
        assert backend.store.redis is given
        assert backend.enqueuer.queue.connection is given
    finally:
        given.close()


def test_the_target_names_host_and_port_never_the_password(
    redis: RedisServer, tmp_path: Path
) -> None:
    settings = settings_for(redis, tmp_path, redis_url="redis://:s3cret@127.0.0.1:1/0")
    backend = Backend.connect(settings)
    assert backend.target == "127.0.0.1:1"
    unix = Backend.connect(settings, Redis(unix_socket_path=str(tmp_path / "r.sock")))
    assert unix.target == "?:?"


def test_tasks_are_queued_only_when_the_job_s_transaction_runs(
    redis_client: Redis, redis: RedisServer, tmp_path: Path
) -> None:
    """Tasks go into the caller's MULTI/EXEC (with the job record): a transaction that is
    dropped queues nothing, so a job is never half queued."""
    enqueuer = Enqueuer(redis_client, settings_for(redis, tmp_path))
    with redis_client.pipeline() as pipe:
        pipe.multi()
        enqueuer.enqueue_chunks(JOB, [0, 1], pipe)
        enqueuer.enqueue_split("b" * 32, pipe)
        assert queued(redis_client) == []
        pipe.reset()  # dropped: never executed
    assert queued(redis_client) == []
    assert redis_client.keys("rq:job:*") == []
