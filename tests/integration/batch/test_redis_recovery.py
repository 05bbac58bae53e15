"""Recovery paths the system suite's Redis outages found.

Jobs that had already ended when Redis lost its data (restart without persistence) keep
their status, summary, results, failure reason and Idempotency-Key — restored from
storage by the API on first use, before any worker's maintenance pass — and a job whose
results on storage are no longer complete comes back failed, saying why; so does an
unfinished job whose input file was deleted while Redis was down. A task a worker
took off the queue but never started (Redis died in between) is retried once its lease
lapses, not a minute later."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from redis import Redis
from rq import Queue

from services.batch.settings import BatchSettings
from services.batch.state.queue import chunk_task_id
from tests.integration.batch.harness import TestClient, WorkerProcess, wait_final, write_parquet
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

Spawn = Callable[..., WorkerProcess]


def _lose_redis_data(redis: RedisServer) -> None:
    redis.stop()  # no persistence: it comes back empty
    redis.start()


def _finish(client: TestClient, settings: BatchSettings, spawn: Spawn, *job_ids: str) -> None:
    assert spawn(settings, burst=True).wait(120) == 0
    for job_id in job_ids:
        wait_final(client, job_id, 30)


def test_succeeded_job_keeps_status_results_and_key_after_redis_loses_its_data(
    redis: RedisServer,
    api: TestClient,
    settings: BatchSettings,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    frame = applicants(100_000, 21)  # two chunks of 50,000
    body = {"rows": frame.to_dict(orient="records")}
    key = {"Idempotency-Key": "book-2026-12"}
    job_id = api.post("/api/v1/jobs", json=body, headers=key).json()["job_id"]
    _finish(api, settings, spawn_worker, job_id)
    before = api.get(f"/api/v1/jobs/{job_id}").json()
    assert before["state"] == "succeeded"

    _lose_redis_data(redis)  # no worker runs from here on: only the API can restore
    replayed = api.post("/api/v1/jobs", json=body, headers=key)
    assert replayed.status_code == 202
    assert replayed.json()["job_id"] == job_id
    assert replayed.headers["Idempotent-Replayed"] == "true"
    after = api.get(f"/api/v1/jobs/{job_id}").json()
    assert after["state"] == "succeeded"
    for field in ("rows_total", "rows_done", "chunks_total", "chunks_done", "summary"):
        assert after[field] == before[field], field
    download = api.get(f"/api/v1/jobs/{job_id}/results", params={"format": "parquet"})
    rows = pq.read_table(pa.BufferReader(download.content)).column("row").to_numpy()
    np.testing.assert_array_equal(rows, np.arange(1, len(frame) + 1))
    assert [job["job_id"] for job in api.get("/api/v1/jobs").json()] == [job_id]
    assert len(list((settings.storage_dir / "jobs").iterdir())) == 1  # no duplicate job


def test_failed_job_keeps_its_reason_and_incomplete_results_fail_a_restored_job(
    redis: RedisServer,
    api: TestClient,
    settings: BatchSettings,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    bad = applicants(60_000, 22)
    bad.loc[55_000, "income"] = -1.0  # beyond the submit check: a worker finds it
    failed = api.post(
        "/api/v1/jobs", content=bad.to_csv(index=False), headers={"Content-Type": "text/csv"}
    ).json()["job_id"]
    good = api.post("/api/v1/jobs", json={"rows": applicants(60_000, 23).to_dict("records")})
    partial = good.json()["job_id"]
    _finish(api, settings, spawn_worker, failed, partial)
    reason = api.get(f"/api/v1/jobs/{failed}").json()["error"]["message"]
    assert "income: 1 values below min 0 (rows 55001)" in reason
    results = settings.storage_dir / "jobs" / partial / "results"
    (results / "part-000001.parquet").unlink()  # storage lost a result file

    _lose_redis_data(redis)
    status = api.get(f"/api/v1/jobs/{failed}").json()
    assert (status["state"], status["error"]["message"]) == ("failed", reason)
    broken = api.get(f"/api/v1/jobs/{partial}").json()
    assert broken["state"] == "failed"
    assert "results on storage are incomplete" in broken["error"]["message"]
    assert "the result of chunk 1 is missing" in broken["error"]["message"]
    assert api.get(f"/api/v1/jobs/{partial}/results").status_code == 409


def test_task_taken_off_the_queue_but_never_started_is_retried_after_its_lease(
    api: TestClient,
    settings: BatchSettings,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    rows = applicants(1_000, 24).to_dict(orient="records")
    job_id = api.post("/api/v1/jobs", json={"rows": rows}).json()["job_id"]
    queue = Queue(settings.queue_name, connection=Redis.from_url(settings.redis_url))
    taken = queue.connection.lmove(queue.key, queue.intermediate_queue_key)  # a dequeue...
    assert taken == chunk_task_id(job_id, 0).encode()  # ... by a worker that then died
    spawn_worker(settings)
    final = wait_final(api, job_id, 40)  # rq alone would wait a minute after noticing it
    assert final["state"] == "succeeded", final
    assert final["rows_done"] == len(rows)


@pytest.mark.parametrize("restored_by", ["api", "worker"])
def test_unfinished_job_whose_input_was_deleted_comes_back_failed_with_the_reason(
    redis: RedisServer,
    api: TestClient,
    settings: BatchSettings,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
    restored_by: str,
) -> None:
    source = settings.storage_dir / "inputs" / "book.parquet"
    write_parquet(applicants(2_000, 25), source)
    key = {"Idempotency-Key": f"deleted-{restored_by}"}
    job_id = api.post("/api/v1/jobs", json={"path": "book.parquet"}, headers=key).json()["job_id"]
    _lose_redis_data(redis)  # before any worker scored it
    source.unlink()
    if restored_by == "worker":  # its maintenance pass restores every lost job
        assert spawn_worker(settings, burst=True).wait(120) == 0
    status = api.get(f"/api/v1/jobs/{job_id}")
    assert status.status_code == 200, status.text
    assert status.json()["state"] == "failed"
    message = status.json()["error"]["message"]
    assert "lost from Redis before it ended" in message
    assert "book.parquet" in message
    assert api.get(f"/api/v1/jobs/{job_id}/results").status_code == 409
    replayed = api.post("/api/v1/jobs", json={"path": "book.parquet"}, headers=key)
    assert replayed.json()["job_id"] == job_id  # the key still names the job
    assert [job["job_id"] for job in api.get("/api/v1/jobs").json()] == [job_id]
