"""Queue tasks on rq: one task per chunk (or one split task), with retries and backoff.

Task ids are derived from the job id and chunk index, arguments are two small values, and
the functions are named by import path, so the API never imports the worker code. A task
that raises is retried after ``retry_backoff_seconds`` (rq's scheduler, run by the
workers); a task whose worker died is found by rq's maintenance once its lease lapses and
retried the same way; when retries run out ``worker.tasks.on_task_failure`` fails the job.

Redis is not trusted to name code: tasks are serialized as JSON (rq's default, pickle,
runs whatever a payload says while it is read), and ``TaskJob`` runs only the task
functions and the failure callback named here, whatever a task hash in Redis says. So
whoever gets write access to Redis can at worst fail or re-run chunks, not run code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loguru import logger
from redis import Redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.queue import EnqueueData
from rq.serializers import JSONSerializer

from services.batch.settings import BatchSettings

SCORE_CHUNK = "services.batch.worker.tasks.score_chunk"
SPLIT_JOB = "services.batch.worker.tasks.split_job"
ON_FAILURE = "services.batch.worker.tasks.on_task_failure"
TASK_RESULT_TTL = 300  # seconds rq keeps a finished task (the chunk's file is the result)
TASKS = frozenset({SCORE_CHUNK, SPLIT_JOB})
SERIALIZER = JSONSerializer


class RefusedTask(Exception):
    """A task names a function that is not one of the batch tasks."""


class TaskJob(Job):
    """An rq job that runs only the batch tasks: ``func`` refuses any other name (the task
    then fails like any failing task), and callbacks other than ``on_task_failure`` are
    ignored with a warning (they run in the worker, outside the task's failure path)."""

    @property
    def func(self) -> Any:
        if self.func_name not in TASKS or self.instance is not None:
            raise RefusedTask(f"task {self.id} names {self.func_name!r}: not a batch task")
        return super().func

    @property
    def failure_callback(self) -> Any:
        if self._failure_callback_name not in (None, ON_FAILURE):
            logger.warning(
                "task {}: ignored failure callback {!r}", self.id, self._failure_callback_name
            )
            return None
        return super().failure_callback

    @property
    def success_callback(self) -> Any:
        if self._success_callback_name:
            logger.warning(
                "task {}: ignored success callback {!r}", self.id, self._success_callback_name
            )
        return None

    @property
    def stopped_callback(self) -> Any:
        if self._stopped_callback_name:
            logger.warning(
                "task {}: ignored stopped callback {!r}", self.id, self._stopped_callback_name
            )
        return None


def task_queue(redis: Redis, name: str) -> Queue:
    """The batch queue as API and workers must both open it: JSON, ``TaskJob``."""
    return Queue(name, connection=redis, serializer=SERIALIZER, job_class=TaskJob)


def chunk_task_id(job_id: str, index: int) -> str:
    return f"{job_id}-c{index:06d}"


def split_task_id(job_id: str) -> str:
    return f"{job_id}-split"


class Enqueuer:
    def __init__(self, redis: Redis, settings: BatchSettings) -> None:
        self.settings = settings
        self.queue = task_queue(redis, settings.queue_name)

    def _data(self, func: str, args: tuple[object, ...], task_id: str) -> EnqueueData:
        s = self.settings
        retry = None
        if s.max_retries:
            retry = Retry(max=s.max_retries, interval=s.retry_backoff_seconds)
        return Queue.prepare_data(
            func,
            args=args,
            job_id=task_id,
            timeout=s.chunk_timeout_seconds,
            retry=retry,
            on_failure=Callback(ON_FAILURE),
            result_ttl=TASK_RESULT_TTL,
            failure_ttl=s.result_ttl_seconds,
            description=f"{func.rsplit('.', 1)[-1]}{args}",
        )

    def chunks(self, job_id: str, indices: Iterable[int]) -> list[EnqueueData]:
        return [self._data(SCORE_CHUNK, (job_id, i), chunk_task_id(job_id, i)) for i in indices]

    def enqueue_chunks(self, job_id: str, indices: Iterable[int], pipe: Pipeline) -> None:
        datas = self.chunks(job_id, indices)
        if datas:
            self.queue.enqueue_many(datas, pipeline=pipe)

    def enqueue_split(self, job_id: str, pipe: Pipeline) -> None:
        self.queue.enqueue_many(
            [self._data(SPLIT_JOB, (job_id,), split_task_id(job_id))], pipeline=pipe
        )
