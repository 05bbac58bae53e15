"""The worker's tasks (``services.batch.worker.tasks``) and its context
(``services.batch.worker.context``) in-process, against a real Redis and the test model: a
split task cuts its input into chunks and queues them, chunk tasks score them and the last
one closes the job, a job is failed once with its reason (bad input, no rows, a model
version gone, a task out of retries), a task of a job that ended or is gone does nothing.

The worker-subprocess tests (``test_lifecycle.py``, ``test_failures.py``, ...) show the same
end to end; these call the tasks in the test's process, so mutation testing (``make
mutate``) sees them reach the code."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from loguru import logger
from prometheus_client import REGISTRY, CollectorRegistry
from redis import Redis
from rq.exceptions import AbandonedJobError
from rq.job import Job

from services.batch.domain import ChunkSpec, JobState, Manifest
from services.batch.state.jobs import register
from services.batch.state.queue import chunk_task_id, split_task_id
from services.batch.state.recovery import planned
from services.batch.state.result_files import read_summary
from services.batch.worker import chunk as chunk_module
from services.batch.worker import context as context_module
from services.batch.worker import tasks
from services.batch.worker.context import WorkerContext, build_context, context, install
from services.batch.worker.recording import ChunkRecord
from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.store import DecisionStore
from services.core.decisions.writer import DecisionWriter
from services.core.model_store import LoadedModel, ModelGone
from tests.integration.batch.conftest import make_settings
from tests.support.postgres import PostgresServer
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

JOB = "a" * 32
KEPT = "BATCH_TEST_MODEL_DIR_KEPT"


@pytest.fixture(scope="session")
def worker_model_dir(request: pytest.FixtureRequest) -> Path:
    """The test model's folder. Under mutmut each mutant's tests run in a new pytest session
    forked from the process that ran them all first: there the folder is copied out of the
    session's temporary folders (pytest removes old ones) and named in the environment the
    forks inherit, so the model is trained once per mutmut run, not once per mutant."""
    kept = os.environ.get(KEPT)
    if kept and Path(kept).is_dir():
        return Path(kept)
    folder: Path = request.getfixturevalue("model_dir")
    if "mutmut" not in sys.modules and "MUTANT_UNDER_TEST" not in os.environ:
        return folder
    target = Path(tempfile.mkdtemp(prefix="mutmut-batch-model-"))
    shutil.copytree(folder, target, dirs_exist_ok=True)
    os.environ[KEPT] = str(target)
    return target


@pytest.fixture
def no_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process has no worker context before the test, and none after it."""
    monkeypatch.setattr(context_module, "_context", None)


@pytest.fixture
def ctx(
    redis: RedisServer, tmp_path: Path, worker_model_dir: Path, no_context: None
) -> Iterator[WorkerContext]:
    """The worker context the tasks use (built as a worker builds it), installed."""
    settings = make_settings(
        redis,
        tmp_path,
        worker_model_dir,
        result_ttl_seconds=777,
        max_retries=2,
        fsync_results=False,
    )
    built = build_context(settings)
    install(built)
    try:
        yield built
    finally:
        built.backend.redis.close()


@contextmanager
def logged(level: str) -> Iterator[list[str]]:
    """The messages logged at ``level`` or above inside the block, each after the job id
    bound to it (``-`` when none is)."""
    messages: list[str] = []

    def keep(message: Any) -> None:
        record = message.record
        messages.append(f"{record['extra'].get('job_id', '-')} {record['message']}")

    sink = logger.add(keep, level=level)
    try:
        yield messages
    finally:
        logger.remove(sink)


def chunks_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("batch_worker_chunks_total", {"outcome": outcome}) or 0.0


def rows_counted() -> float:
    return REGISTRY.get_sample_value("batch_worker_rows_scored_total") or 0.0


class Counted:
    """The worker's chunk counters, read as deltas since the block started."""

    OUTCOMES = ("scored", "skipped", "bad_input", "model_gone")

    def __init__(self) -> None:
        self.start = {o: chunks_counted(o) for o in self.OUTCOMES}
        self.rows_start = rows_counted()

    def chunks(self) -> dict[str, float]:
        deltas = {o: chunks_counted(o) - self.start[o] for o in self.OUTCOMES}
        return {o: d for o, d in deltas.items() if d}

    def rows(self) -> float:
        return rows_counted() - self.rows_start


def submitted(
    ctx: WorkerContext,
    source: Path,
    *,
    split: bool,
    job_id: str = JOB,
    chunk_rows: int = 40,
    **fields: Any,
) -> str:
    """A job registered as the API registers it (its first tasks queued)."""
    options: dict[str, Any] = {
        "job_id": job_id,
        "created_at": 1_700_000_000.5,
        "kind": "path",
        "format": source.suffix.lstrip("."),
        "source": str(source),
        "chunk_rows": chunk_rows,
        "split": split,
        "model_uri": ctx.settings.model_uri,
        "submitted_by": "key-1",
        **fields,
    }
    manifest = Manifest(**options)
    register(ctx.backend, manifest, None if split else planned(manifest))
    return job_id


def csv_input(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def parquet_input(path: Path, frame: pd.DataFrame, row_group_size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size
    )
    return path


def state(ctx: WorkerContext, job_id: str = JOB) -> str:
    record = ctx.store.record(job_id)
    assert record is not None
    return record["state"]


def queued(ctx: WorkerContext) -> list[str]:
    return ctx.enqueuer.queue.get_job_ids()


def final(ctx: WorkerContext, job_id: str = JOB) -> dict[str, Any]:
    document = ctx.storage.job(job_id).read_final()
    assert document is not None, "no final.json"
    return document


def test_a_split_job_is_cut_into_chunks_queued_scored_and_closed_once(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = csv_input(tmp_path / "in" / "x.csv", applicants(100, 1))
    submitted(ctx, source, split=True)
    assert queued(ctx) == [split_task_id(JOB)]
    assert tasks.split_job(JOB) == {"chunks": 3, "rows": 100}
    assert queued(ctx) == [split_task_id(JOB)] + [chunk_task_id(JOB, i) for i in range(3)]
    specs = ctx.store.chunk_specs(JOB)
    assert [(s.index, s.offset, s.rows) for s in specs] == [(0, 0, 40), (1, 40, 40), (2, 80, 20)]
    assert [Path(s.path) for s in specs] == [ctx.storage.job(JOB).part(i) for i in range(3)]
    assert state(ctx) == "running"
    record = ctx.store.record(JOB)
    assert record is not None
    assert (record["n_chunks"], record["n_rows"]) == ("3", "100")
    counted = Counted()
    first = tasks.score_chunk(JOB, 0)
    assert (first["rows"], first["skipped"], first["outcome"]) == (40, False, "counted")
    assert first["seconds"] == round(first["seconds"], 4)
    assert first["seconds"] > 0
    assert tasks.score_chunk(JOB, 2)["outcome"] == "counted"
    assert not ctx.storage.job(JOB).final.exists()
    last = tasks.score_chunk(JOB, 1)
    assert (last["rows"], last["skipped"], last["outcome"]) == (40, False, "finished")
    assert counted.chunks() == {"scored": 3}
    assert counted.rows() == 100
    assert state(ctx) == "succeeded"
    document = final(ctx)
    assert document["state"] == "succeeded"
    assert "error" not in document
    assert document["expires_at"] - document["finished_at"] == pytest.approx(777)
    results = [pq.read_table(ctx.storage.job(JOB).result(i)) for i in range(3)]
    assert [t.num_rows for t in results] == [40, 40, 20]
    names = results[0].column_names
    assert "reason_4" in names  # the worker's reasons_top_k (4)
    assert "reason_5" not in names
    assert read_summary(ctx.storage.job(JOB).result(0)).worker == ctx.name
    # a chunk task run again (a retry after the worker died) reads its result back
    counted = Counted()
    again = tasks.score_chunk(JOB, 0)
    assert again == {"skipped": "succeeded"}
    assert counted.chunks() == {"skipped": 1}
    assert counted.rows() == 0


def test_the_id_column_is_kept_through_the_split_and_the_chunks(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(30, 13)
    frame.insert(0, "loan_id", [f"L{i}" for i in range(30)])
    frame["ignored"] = 1
    source = csv_input(tmp_path / "in" / "x.csv", frame)
    submitted(ctx, source, split=True, id_column="loan_id", chunk_rows=20)
    assert tasks.split_job(JOB) == {"chunks": 2, "rows": 30}
    part = pq.read_table(ctx.storage.job(JOB).part(0))
    assert "loan_id" in part.column_names
    assert "ignored" not in part.column_names
    tasks.score_chunk(JOB, 0)
    tasks.score_chunk(JOB, 1)
    scored = pa.concat_tables([pq.read_table(ctx.storage.job(JOB).result(i)) for i in range(2)])
    assert scored["loan_id"].to_pylist() == [f"L{i}" for i in range(30)]


def test_a_job_registered_before_pinning_is_split_with_its_configured_model(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = csv_input(tmp_path / "in" / "x.csv", applicants(10, 14))
    submitted(ctx, source, split=True)
    ctx.store.redis.hdel(ctx.store.job_key(JOB), "model_pinned_uri")
    assert tasks.split_job(JOB) == {"chunks": 1, "rows": 10}


def test_a_chunk_task_reports_its_scoring_time_to_the_tenth_of_a_millisecond(
    ctx: WorkerContext,
    tmp_path: Path,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(10, 15), 10)
    submitted(ctx, source, split=False)
    clock = iter([100.0, 102.345678])
    monkeypatch.setattr(chunk_module, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    assert tasks.score_chunk(JOB, 0)["seconds"] == 2.3457


def test_a_chunk_is_recorded_under_its_job_when_the_decision_record_is_on(
    ctx: WorkerContext,
    postgres: PostgresServer,
    tmp_path: Path,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = DecisionSettings(dsn=postgres.dsn, spool_dir=tmp_path / "spool")
    writer = DecisionWriter(config, DecisionMetrics(CollectorRegistry())).start()
    monkeypatch.setattr(ctx, "decisions", writer)
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(12, 16), 12)
    submitted(ctx, source, split=False)
    try:
        assert tasks.score_chunk(JOB, 0)["outcome"] == "finished"
    finally:
        writer.close()
    rows = DecisionStore(postgres.dsn).find_row(JOB)
    assert [r["row_index"] for r in rows] == list(range(1, 13))
    assert str(rows[0]["day"]) == "2023-11-14"  # the job's submission day


def test_a_chunk_already_scored_is_not_scored_again(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(60, 2), 30)
    submitted(ctx, source, split=False)
    assert queued(ctx) == [chunk_task_id(JOB, 0), chunk_task_id(JOB, 1)]
    assert tasks.score_chunk(JOB, 0)["outcome"] == "counted"
    counted = Counted()
    again = tasks.score_chunk(JOB, 0)
    assert (again["rows"], again["skipped"]) == (30, True)
    assert counted.chunks() == {"skipped": 1}
    assert counted.rows() == 0


def test_the_last_chunk_of_a_split_scored_before_the_seal_closes_the_job_at_the_seal(
    ctx: WorkerContext,
    tmp_path: Path,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunk tasks run while the split is still cutting: when all are scored before the
    split seals the job, the seal closes it (and writes its final.json)."""
    source = csv_input(tmp_path / "in" / "x.csv", applicants(50, 3))
    submitted(ctx, source, split=True, chunk_rows=25)
    cut = tasks._split

    def cut_and_score(*args: Any) -> Iterator[ChunkSpec]:
        for spec in cut(*args):
            yield spec
            assert tasks.score_chunk(JOB, spec.index)["outcome"] == "counted"

    monkeypatch.setattr(tasks, "_split", cut_and_score)
    assert tasks.split_job(JOB) == {"chunks": 2, "rows": 50}
    assert state(ctx) == "succeeded"
    assert final(ctx)["state"] == "succeeded"


def test_a_split_stops_reading_once_its_job_is_cancelled(
    ctx: WorkerContext,
    tmp_path: Path,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = csv_input(tmp_path / "in" / "x.csv", applicants(100, 4))
    submitted(ctx, source, split=True)
    cut = tasks._split
    read: list[int] = []

    def cut_then_cancel(*args: Any) -> Iterator[ChunkSpec]:
        for spec in cut(*args):
            read.append(spec.index)
            yield spec
            ctx.store.close(JOB, JobState.CANCELLED, 60)

    monkeypatch.setattr(tasks, "_split", cut_then_cancel)
    assert tasks.split_job(JOB) == {"stopped": "cancelled"}
    assert read == [0, 1]
    # chunk 1 was queued with its spec (its task will find the job cancelled); chunk 2
    # was never read
    assert queued(ctx) == [split_task_id(JOB), chunk_task_id(JOB, 0), chunk_task_id(JOB, 1)]
    assert [s.index for s in ctx.store.chunk_specs(JOB)] == [0, 1]
    assert state(ctx) == "cancelled"


def test_a_bad_value_fails_the_split_job_once_with_its_row(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(30, 5).astype({"income": object})
    frame.loc[7, "income"] = "abc"
    source = csv_input(tmp_path / "in" / "x.csv", frame)
    submitted(ctx, source, split=True)
    with logged("ERROR") as errors:
        outcome = tasks.split_job(JOB)
    assert set(outcome) == {"failed"}
    assert "income" in outcome["failed"]
    assert state(ctx) == "failed"
    document = final(ctx)
    assert document["state"] == "failed"
    assert document["error"]["message"] == outcome["failed"]
    assert document["error"]["details"]
    assert json.loads(ctx.store.record(JOB)["error"]) == document["error"]  # type: ignore[index]
    assert errors == [f"{JOB} job failed: {outcome['failed']}"]
    assert tasks.split_job(JOB) == {"skipped": "failed"}  # the task run again does nothing


def test_an_input_without_rows_fails_the_job(ctx: WorkerContext, tmp_path: Path) -> None:
    source = tmp_path / "in" / "empty.csv"
    source.parent.mkdir()
    source.write_text("income,balance,student\n")
    submitted(ctx, source, split=True)
    assert tasks.split_job(JOB) == {"failed": "no data rows"}
    assert final(ctx)["error"] == {"message": "no data rows", "details": []}
    assert state(ctx) == "failed"


def test_a_bad_value_in_a_chunk_fails_the_job_with_its_row(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(20, 6)
    frame.loc[3, "income"] = -1.0  # out of the contract's range
    source = parquet_input(tmp_path / "in" / "x.parquet", frame, 10)
    submitted(ctx, source, split=False, chunk_rows=10)
    counted = Counted()
    outcome = tasks.score_chunk(JOB, 0)
    assert set(outcome) == {"failed"}
    assert counted.chunks() == {"bad_input": 1}
    assert state(ctx) == "failed"
    assert final(ctx)["error"]["message"] == outcome["failed"]
    assert tasks.score_chunk(JOB, 1) == {"skipped": "failed"}


def test_a_job_whose_model_version_is_gone_fails_saying_so(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    gone = str(tmp_path / "deleted-model")
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(20, 7), 10)
    submitted(ctx, source, split=False, model_pinned_uri=gone)
    counted = Counted()
    with logged("ERROR") as errors:
        assert tasks.score_chunk(JOB, 0) == {"failed": "its model version is gone"}
    assert counted.chunks() == {"model_gone": 1}
    message = final(ctx)["error"]["message"]
    assert message.startswith(
        f"the model version this job was pinned to at submit ({gone}) can no longer be "
        "loaded, and a job is never scored with another version; submit it again to score "
        "it with the current model (no model folder at "
    )
    assert final(ctx)["error"]["details"] == []
    assert errors == [f"{JOB} job failed: {message}"]
    assert tasks.score_chunk(JOB, 1) == {"skipped": "failed"}
    submitted(ctx, source, split=True, job_id="b" * 32, model_pinned_uri=gone)
    assert tasks.split_job("b" * 32) == {"failed": "its model version is gone"}
    assert state(ctx, "b" * 32) == "failed"


def test_the_split_and_the_chunks_load_the_version_pinned_at_submit(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    """The configured URI names no model any more; the job's pinned version is loaded."""
    source = csv_input(tmp_path / "in" / "x.csv", applicants(30, 8))
    pinned = ctx.settings.model_uri
    submitted(ctx, source, split=True, model_uri=str(tmp_path / "moved"), model_pinned_uri=pinned)
    assert tasks.split_job(JOB) == {"chunks": 1, "rows": 30}
    assert tasks.score_chunk(JOB, 0)["outcome"] == "finished"


def test_a_chunk_task_of_a_job_ended_or_gone_does_nothing(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(20, 9), 10)
    submitted(ctx, source, split=False)
    ctx.store.close(JOB, JobState.CANCELLED, 60)
    counted = Counted()
    assert tasks.score_chunk(JOB, 0) == {"skipped": "cancelled"}
    assert tasks.score_chunk("f" * 32, 0) == {"skipped": "missing"}
    assert tasks.split_job("f" * 32) == {"skipped": "missing"}
    assert counted.chunks() == {"skipped": 2}
    assert not ctx.storage.job(JOB).result(0).exists()


def test_a_chunk_the_job_does_not_have_is_an_error(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(20, 10), 10)
    submitted(ctx, source, split=False)
    with pytest.raises(RuntimeError, match=f"^job {JOB} has no spec for chunk 5$"):
        tasks.score_chunk(JOB, 5)


def test_a_job_that_lost_its_model_fields_is_skipped(
    ctx: WorkerContext, tmp_path: Path, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    """The job expired between the start of the task and its model look-up."""
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(20, 11), 10)
    submitted(ctx, source, split=False)
    ctx.store.redis.hdel(ctx.store.job_key(JOB), "model_uri", "model_pinned_uri")
    counted = Counted()
    assert tasks.score_chunk(JOB, 0) == {"skipped": "missing"}
    assert counted.chunks() == {"skipped": 1}
    assert not ctx.storage.job(JOB).result(0).exists()


def test_the_chaos_delay_sleeps_before_a_chunk_only_when_set(
    ctx: WorkerContext,
    tmp_path: Path,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = parquet_input(tmp_path / "in" / "x.parquet", applicants(20, 12), 10)
    submitted(ctx, source, split=False, chunk_rows=10)
    slept: list[float] = []
    monkeypatch.setattr(tasks, "time", SimpleNamespace(sleep=slept.append, time=time.time))
    assert tasks.score_chunk(JOB, 0)["outcome"] == "counted"
    assert slept == []
    monkeypatch.setattr(ctx.settings, "fault_chunk_delay_seconds", 0.25)
    assert tasks.score_chunk(JOB, 1)["outcome"] == "finished"
    assert slept == [0.25]


def test_a_chunk_record_names_the_job_its_submit_time_and_caller(
    ctx: WorkerContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tasks.chunk_record(ctx, JOB) is None  # the decision record is off
    writer: Any = object()
    monkeypatch.setattr(ctx, "decisions", writer)
    source = tmp_path / "x.parquet"
    submitted(ctx, source, split=True)
    assert tasks.chunk_record(ctx, JOB) == ChunkRecord(writer, JOB, 1_700_000_000.5, "key-1")
    monkeypatch.setattr(tasks, "time", SimpleNamespace(time=lambda: 42.0))
    ctx.store.redis.hdel(ctx.store.job_key(JOB), "created_at", "submitted_by")
    assert tasks.chunk_record(ctx, JOB) == ChunkRecord(writer, JOB, 42.0, "")
    assert tasks.chunk_record(ctx, "f" * 32) == ChunkRecord(writer, "f" * 32, 42.0, "")


def test_a_job_is_failed_once_and_its_final_file_keeps_the_reason(
    ctx: WorkerContext, tmp_path: Path
) -> None:
    submitted(ctx, tmp_path / "x.parquet", split=True)
    error = {"message": "it broke", "details": [{"row": 3}]}
    with logged("INFO") as messages:
        tasks.fail_job(ctx, JOB, error)
        tasks.fail_job(ctx, JOB, {"message": "again", "details": []})
    assert messages == [f"{JOB} job {JOB} failed", f"{JOB} job failed: it broke"]
    assert json.loads(ctx.store.record(JOB)["error"]) == error  # type: ignore[index]
    document = final(ctx)
    assert (document["state"], document["error"]) == ("failed", error)
    assert document["expires_at"] - document["finished_at"] == pytest.approx(777)


def test_a_job_closed_failed_by_the_store_gets_its_reason_from_the_record(
    ctx: WorkerContext, tmp_path: Path
) -> None:
    """The row-count check fails a job in Redis: final.json is written with that error."""
    submitted(ctx, tmp_path / "x.parquet", split=True)
    error = {"message": "rows counted twice", "details": []}
    ctx.store.close(JOB, JobState.FAILED, 60, json.dumps(error))
    tasks.closed(ctx, JOB, "failed")
    assert final(ctx)["error"] == error
    ctx.store.redis.hset(ctx.store.job_key(JOB), "error", "{not json")
    tasks.closed(ctx, JOB, "failed")
    assert "error" not in final(ctx)
    ctx.store.redis.hdel(ctx.store.job_key(JOB), "error")
    tasks.closed(ctx, JOB, "failed")
    assert "error" not in final(ctx)
    ctx.store.redis.hset(ctx.store.job_key(JOB), "error", json.dumps(error))
    tasks.closed(ctx, JOB, "succeeded")
    assert final(ctx) | {"finished_at": 0, "expires_at": 0} == {
        "state": "succeeded",
        "finished_at": 0,
        "expires_at": 0,
    }
    tasks.closed(ctx, "f" * 32, "failed")  # the job is gone from Redis
    assert final(ctx, "f" * 32)["state"] == "failed"
    assert "error" not in final(ctx, "f" * 32)


def test_a_failed_job_is_closed_on_storage_while_redis_is_down(
    ctx: WorkerContext, redis: RedisServer, tmp_path: Path
) -> None:
    submitted(ctx, tmp_path / "x.parquet", split=True)
    redis.stop()
    tasks.closed(ctx, JOB, "failed")
    assert final(ctx)["state"] == "failed"
    assert "error" not in final(ctx)


def task_of(redis_client: Redis, args: tuple[object, ...], retries_left: int | None) -> Job:
    job = Job.create(tasks.score_chunk, args=args, connection=redis_client)
    job.retries_left = retries_left
    return job


@pytest.mark.parametrize(
    ("args", "what"), [((JOB, 3), "chunk 3"), ((JOB,), "input split")], ids=["chunk", "split"]
)
def test_a_failed_task_with_retries_left_only_warns(
    ctx: WorkerContext, tmp_path: Path, args: tuple[object, ...], what: str
) -> None:
    submitted(ctx, tmp_path / "x.parquet", split=True)
    with logged("WARNING") as messages:
        tasks.on_task_failure(
            task_of(ctx.backend.redis, args, 2), ctx.backend.redis, KeyError, KeyError("x"), None
        )
    assert messages == [f"- {what} of job {JOB} failed (KeyError), 2 retries left"]
    assert state(ctx) == "queued"


@pytest.mark.parametrize(
    ("args", "retries_left", "exc", "reason"),
    [
        (
            (JOB, 3),
            0,
            ValueError("boom"),
            "chunk 3 failed after 3 attempt(s); last error: ValueError: boom",
        ),
        (
            (JOB,),
            None,
            AbandonedJobError("gone"),
            "input split failed after 3 attempt(s); last error: its worker died or stopped "
            "sending heartbeats",
        ),
    ],
    ids=["error", "abandoned"],
)
def test_a_task_out_of_retries_fails_its_job_saying_why(
    ctx: WorkerContext,
    tmp_path: Path,
    args: tuple[object, ...],
    retries_left: int | None,
    exc: BaseException,
    reason: str,
) -> None:
    submitted(ctx, tmp_path / "x.parquet", split=True)
    with logged("WARNING") as messages:
        tasks.on_task_failure(
            task_of(ctx.backend.redis, args, retries_left), ctx.backend.redis, type(exc), exc, None
        )
    assert messages == [f"{JOB} job failed: {reason}"]
    assert final(ctx)["error"] == {"message": reason, "details": []}
    assert state(ctx) == "failed"


def test_a_worker_context_is_built_from_its_settings(
    ctx: WorkerContext, worker_model_dir: Path, redis_client: Redis
) -> None:
    settings = ctx.settings
    assert ctx.name == f"{socket.gethostname()}:{os.getpid()}"
    assert ctx.decisions is None  # DECISIONS_DSN is not set
    assert ctx.models.loads == 1  # the configured version, loaded at start
    assert ctx.models.size == settings.model_cache_size
    assert (ctx.store, ctx.storage, ctx.enqueuer) == (
        ctx.backend.store,
        ctx.backend.storage,
        ctx.backend.enqueuer,
    )
    model = ctx.model_for(str(worker_model_dir))
    assert isinstance(model, LoadedModel)
    assert model.uri == str(worker_model_dir.resolve())
    assert ctx.model_for(f"{worker_model_dir}/.") is model  # the same version, not loaded again
    assert ctx.models.loads == 1
    config = json.loads(model.booster.save_config())
    assert config["learner"]["generic_param"]["nthread"] == str(settings.nthread)
    with pytest.raises(ModelGone):
        ctx.model_for(str(worker_model_dir.parent / "other"))
    own = build_context(settings.model_copy(update={"model_cache_size": 2}), redis_client)
    assert own.backend.redis is redis_client
    assert own.models.size == 2


def test_a_worker_does_not_start_without_its_model(
    redis: RedisServer, tmp_path: Path, worker_model_dir: Path
) -> None:
    settings = make_settings(redis, tmp_path, tmp_path / "no-model")
    with pytest.raises(ModelGone):
        build_context(settings)


def test_a_worker_context_is_built_on_first_use_from_the_environment(
    redis: RedisServer,
    tmp_path: Path,
    worker_model_dir: Path,
    no_context: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DECISIONS_DSN", raising=False)
    monkeypatch.setenv("BATCH_REDIS_URL", redis.url)
    monkeypatch.setenv("BATCH_MODEL_URI", str(worker_model_dir))
    monkeypatch.setenv("BATCH_STORAGE_DIR", str(tmp_path / "env-store"))
    monkeypatch.setenv("BATCH_NTHREAD", "1")
    first = context()
    try:
        assert first.settings.storage_dir == tmp_path / "env-store"
        assert first.settings.redis_url == redis.url
        assert context() is first
        assert context_module._context is first
    finally:
        first.backend.redis.close()


def test_an_installed_context_is_the_one_tasks_use(ctx: WorkerContext, no_context: None) -> None:
    install(ctx)
    assert context() is ctx
