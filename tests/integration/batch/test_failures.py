"""Failures: a killed worker, Redis going away mid-job or at submit, a failing task, and
two workers sharing one job. Every wait is bounded; every success has exactly N rows."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from services.batch.api.app import create_app
from services.batch.settings import BatchSettings
from services.batch.state.queue import chunk_task_id
from services.batch.state.result_files import read_summary
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import TestClient, WorkerProcess, wait_final, wait_for
from tests.integration.batch.harness import write_parquet as write
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

Spawn = Callable[..., WorkerProcess]


def _submit_path(client: TestClient, settings: BatchSettings, frame: pd.DataFrame) -> str:
    write(frame, settings.storage_dir / "inputs" / "book.parquet", row_group_size=25_000)
    response = client.post("/api/v1/jobs", json={"path": "book.parquet"})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def _assert_exactly_once(client: TestClient, job_id: str, n: int) -> pd.DataFrame:
    response = client.get(f"/api/v1/jobs/{job_id}/results", params={"format": "parquet"})
    assert response.status_code == 200, response.text
    results = pq.read_table(pa_buffer(response.content)).to_pandas()
    assert len(results) == n
    np.testing.assert_array_equal(results["row"].to_numpy(), np.arange(1, n + 1))
    return results


def pa_buffer(content: bytes) -> Any:
    import pyarrow as pa

    return pa.BufferReader(content)


def _done(client: TestClient, job_id: str) -> int:
    response = client.get(f"/api/v1/jobs/{job_id}")
    return int(response.json()["chunks_done"]) if response.status_code == 200 else 0


def test_killed_worker_chunk_is_requeued_by_rq_and_no_row_is_lost_or_doubled(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    settings = make_settings(
        redis, tmp_path, model_dir, chunk_rows=200_000, retry_backoff_seconds=[0, 1]
    )
    n = 2_000_000
    with TestClient(create_app(settings)) as client:
        job_id = _submit_path(client, settings, applicants(n, 5))
        first = spawn_worker(settings)
        connection = Redis.from_url(settings.redis_url)
        started = StartedJobRegistry("batch", connection=connection)
        paths = [
            settings.storage_dir / "jobs" / job_id / "results" / f"part-{i:06d}.parquet"
            for i in range(10)
        ]

        def unfinished() -> str | None:
            running = started.get_job_ids(cleanup=False)
            if running and not paths[int(running[0].rsplit("-c", 1)[1])].exists():
                return running[0]
            return None

        def frozen_mid_chunk() -> str | None:
            """Freeze the worker (SIGSTOP: it can write nothing more) while a chunk runs
            after two are done; a chunk that finished in between thaws it to try again."""
            if _done(client, job_id) < 2 or not unfinished():
                return None
            os.killpg(first.pid, signal.SIGSTOP)
            task = unfinished()
            if task is None:
                os.killpg(first.pid, signal.SIGCONT)
            return task

        task_id = wait_for("a chunk in progress after two are done", frozen_mid_chunk, 120)
        os.killpg(first.pid, signal.SIGKILL)  # the whole pod: worker and its rq scheduler
        first.proc.wait(10)
        index = int(task_id.rsplit("-c", 1)[1])
        assert not paths[index].exists()  # killed before its result was written
        second = spawn_worker(settings)
        final = wait_final(client, job_id, 180)
        assert final["state"] == "succeeded", (final, second.output())
        assert final["rows_done"] == n
        _assert_exactly_once(client, job_id, n)
    retried = Job.fetch(task_id, connection=connection)
    assert retried.retries_left == settings.max_retries - 1  # rq found it abandoned, retried it
    assert read_summary(paths[index]).worker.endswith(f":{second.pid}")


def test_redis_restart_mid_job_loses_nothing(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    settings = make_settings(redis, tmp_path, model_dir, chunk_rows=100_000)
    n = 1_500_000
    with TestClient(create_app(settings)) as client:
        job_id = _submit_path(client, settings, applicants(n, 6))
        spawn_worker(settings)
        wait_for("three chunks done", lambda: _done(client, job_id) >= 3, 120, 0.01)
        redis.stop()  # no persistence: every key, queued task and job record is gone
        down = client.post("/api/v1/jobs", json={"path": "book.parquet"})
        assert down.status_code == 503
        assert "nothing was accepted" in down.json()["error"]["message"]
        assert client.get(f"/api/v1/jobs/{job_id}").status_code == 503
        time.sleep(1.0)  # not a wait: Redis stays down a while, the worker retrying meanwhile
        redis.start()
        final = wait_final(client, job_id, 180)
        assert final["state"] == "succeeded", final
        assert final["rows_done"] == n
        _assert_exactly_once(client, job_id, n)
    jobs = list((settings.storage_dir / "jobs").iterdir())
    assert [p.name for p in jobs] == [job_id]  # the refused submit left nothing behind


def test_redis_down_at_submit_is_a_clear_503_and_nothing_is_kept(
    redis: RedisServer, api: TestClient, settings: BatchSettings
) -> None:
    redis.stop()
    rows = [{"student": "No", "balance": 10.0, "income": 100.0}]
    response = api.post("/api/v1/jobs", json={"rows": rows})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert f"Redis at 127.0.0.1:{redis.port}" in error["message"]
    assert response.headers["Retry-After"] == "5"
    assert not list((settings.storage_dir / "jobs").iterdir())
    assert api.get("/readyz").status_code == 503
    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    assert "batch_redis_up 0.0" in metrics.text


def test_failing_chunk_is_retried_with_backoff_then_succeeds_or_fails_the_job(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    settings = make_settings(
        redis, tmp_path, model_dir, max_retries=2, retry_backoff_seconds=[1, 5]
    )
    connection = Redis.from_url(settings.redis_url)
    with TestClient(create_app(settings)) as client:
        frame = applicants(1_000, 7)
        book = settings.storage_dir / "inputs" / "book.parquet"
        healed = _submit_path(client, settings, frame)
        book.rename(book.with_suffix(".away"))  # the shared volume blinks
        worker = spawn_worker(settings)
        task = chunk_task_id(healed, 0)
        # a failed attempt; on a busy machine the second may have failed too before we
        # look, and the last one comes 5 s later: the volume is back long before that
        wait_for(
            "a failed first attempt",
            lambda: Job.fetch(task, connection).retries_left in (0, 1),
            60,
            0.05,
        )
        book.with_suffix(".away").rename(book)
        assert wait_final(client, healed, 60)["state"] == "succeeded"
        # the worker is frozen while the next job is submitted and its input removed: a
        # worker scoring the chunk in between would make that job succeed
        os.killpg(worker.pid, signal.SIGSTOP)
        try:
            lost = _submit_path(client, settings, frame)
            book.unlink()
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        final = wait_final(client, lost, 60)
    assert final["state"] == "failed"
    assert "chunk 0 failed after 3 attempt(s)" in final["error"]["message"]
    assert "FileNotFoundError" in final["error"]["message"]


def test_two_workers_share_one_job_and_results_keep_input_order(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    settings = make_settings(redis, tmp_path, model_dir, chunk_rows=50_000)
    n = 1_000_000
    workers = [spawn_worker(settings), spawn_worker(settings)]
    queue = Queue("batch", connection=Redis.from_url(settings.redis_url))
    wait_for("two idle workers", lambda: Worker.count(queue=queue) == 2, 120)
    with TestClient(create_app(settings)) as client:
        job_id = _submit_path(client, settings, applicants(n, 8))
        final = wait_final(client, job_id, 180)
        assert final["state"] == "succeeded"
        # 18 chunks of 50,000 rows, then the last 100,000 rows in finer chunks (the tail)
        assert final["chunks_done"] == final["chunks_total"] > 20
        _assert_exactly_once(client, job_id, n)
    results = settings.storage_dir / "jobs" / job_id / "results"
    by = [read_summary(path).worker for path in sorted(results.glob("part-*.parquet"))]
    assert {w.rsplit(":", 1)[1] for w in by} == {str(w.pid) for w in workers}


def test_a_chunk_running_for_three_leases_keeps_its_lease_and_is_scored_once(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    """Lease renewal: a chunk that runs three times as long as the lease (the fault knob
    holds it) is never taken for abandoned, although the other worker runs rq's
    maintenance every second the whole time. Without the heartbeat thread the lease
    lapses after 2 s, and the chunk is retried and scored a second time."""
    settings = make_settings(
        redis, tmp_path, model_dir, lease_seconds=2, fault_chunk_delay_seconds=6
    )
    connection = Redis.from_url(settings.redis_url)
    queue = Queue("batch", connection=connection)
    workers = [spawn_worker(settings), spawn_worker(settings)]
    wait_for("two idle workers", lambda: Worker.count(queue=queue) == 2, 120)
    n = 1_000
    with TestClient(create_app(settings)) as client:
        job_id = _submit_path(client, settings, applicants(n, 9))
        final = wait_final(client, job_id, 60)
        assert final["state"] == "succeeded", final
        _assert_exactly_once(client, job_id, n)
    wait_for(
        "no task running or queued",
        lambda: not queue.started_job_registry.get_job_ids(cleanup=False) and not queue.count,
        60,
    )
    logs = "".join(w.output() for w in workers)
    # the direct evidence: our failure callback logs an abandoned chunk, rq each start
    assert "AbandonedJobError" not in logs, logs[-3000:]
    assert logs.count(f"score_chunk('{job_id}', 0) (") == 1, logs[-3000:]  # started once
    task = Job.fetch(chunk_task_id(job_id, 0), connection=connection)
    assert task.retries_left == settings.max_retries
    runs = {w.pid: w.successful_job_count + w.failed_job_count for w in Worker.all(queue=queue)}
    assert sorted(runs) == sorted(w.pid for w in workers)  # neither worker was taken for dead
    assert sum(runs.values()) == 1, (runs, [w.output()[-1500:] for w in workers])
