"""A finished job given back to Redis from storage (``services.batch.state.recovery``),
in-process against a real Redis: what is restored, as which state and for how long, and
what is refused and why. (``test_redis_recovery.py`` shows the same through the API and
the workers, in subprocesses.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from loguru import logger
from redis import Redis

from services.batch.domain import BadInput, ChunkSummary, Manifest
from services.batch.state.recovery import (
    IncompleteResults,
    planned_chunks,
    restore_closed,
    scored_chunks,
    split_parts,
)
from services.batch.state.result_files import write_result
from services.batch.state.storage import JobPaths, Storage
from services.batch.state.store import RedisJobStore
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

JOB = "3" * 32


def _mkdir(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def manifest(source: Path | str, split: bool, idempotency: str | None = None) -> Manifest:
    return Manifest(
        job_id=JOB,
        created_at=7.0,
        kind="path",
        format="parquet",
        source=str(source),
        chunk_rows=4,
        split=split,
        model_uri="m",
        idempotency=idempotency,
    )


def result(job: JobPaths, index: int, rows: int) -> None:
    table = pa.table({"row": list(range(rows)), "risk_band": ["low"] * rows})
    summary = ChunkSummary(rows, 1, {"low": rows}, "w:1", "1")
    write_result(_mkdir(job.result(index)), table, summary, False)


def parts(job: JobPaths, sizes: tuple[int, ...]) -> None:
    for index, rows in enumerate(sizes):
        pq.write_table(pa.table({"x": list(range(rows))}), _mkdir(job.part(index)))


def source_with_groups(path: Path, sizes: tuple[int, ...]) -> Path:
    """A parquet input with one row group per size."""
    with pq.ParquetWriter(_mkdir(path), pa.schema([("x", pa.int64())])) as writer:
        for rows in sizes:
            writer.write_table(pa.table({"x": list(range(rows))}))
    return path


@contextmanager
def warnings_logged() -> Iterator[list[str]]:
    messages: list[str] = []

    def keep(message: Any) -> None:
        record = message.record
        messages.append(f"[{record['extra'].get('job_id')}] {record['message']}")

    sink = logger.add(keep, level="WARNING")
    try:
        yield messages
    finally:
        logger.remove(sink)


@pytest.fixture
def store(redis: RedisServer) -> Iterator[RedisJobStore]:
    connection = Redis.from_url(redis.url)
    try:
        yield RedisJobStore(connection, "batch")
    finally:
        connection.close()


def record(store: RedisJobStore) -> dict[str, str]:
    raw = store.redis.hgetall(store.job_key(JOB))
    return {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]


def final(state: str, expires_in: float, error: dict[str, str] | None = None) -> dict[str, object]:
    out: dict[str, object] = {
        "state": state,
        "finished_at": 11.5,
        "expires_at": time.time() + expires_in,
    }
    if error is not None:
        out["error"] = error
    return out


def test_a_succeeded_split_job_comes_back_with_its_chunks_counts_and_key(
    store: RedisJobStore, tmp_path: Path
) -> None:
    job = Storage(tmp_path).job(JOB)
    parts(job, (4, 3))
    result(job, 0, 4)
    result(job, 1, 3)
    digest = "ab" * 16
    with warnings_logged() as warnings:
        assert restore_closed(store, job, manifest("in.csv", True, digest), final("succeeded", 600))
    fields = record(store)
    assert fields["state"] == "succeeded"
    assert float(fields["finished_at"]) == 11.5
    assert (fields["rows_done"], fields["chunks_done"], fields["positives"]) == ("7", "2", "2")
    assert (fields["n_rows"], fields["n_chunks"], fields["recovered"]) == ("7", "2", "1")
    assert "error" not in fields or fields["error"] in ("", "null")
    assert 590 <= store.redis.ttl(store.job_key(JOB)) <= 600
    assert store.redis.get(store.idempotency_key(digest)) == JOB.encode()
    assert warnings == [
        f"[{JOB}] job {JOB} (succeeded) was lost from Redis after it ended: restored from storage"
    ]


def test_a_job_about_to_expire_is_left_to_the_purge(store: RedisJobStore, tmp_path: Path) -> None:
    job = Storage(tmp_path).job(JOB)
    m = manifest("in.csv", True)
    assert not restore_closed(store, job, m, final("failed", 1.5, {"message": "x"}))
    assert not restore_closed(store, job, m, {"state": "failed", "finished_at": 1.0})
    assert record(store) == {}
    assert restore_closed(store, job, m, final("failed", 2.9, {"message": "x"}))  # 2 s left
    assert record(store)["state"] == "failed"


def test_a_succeeded_job_with_a_missing_result_comes_back_failed_saying_why(
    store: RedisJobStore, tmp_path: Path
) -> None:
    job = Storage(tmp_path).job(JOB)
    parts(job, (4, 3))
    result(job, 0, 4)
    assert restore_closed(store, job, manifest("in.csv", True), final("succeeded", 600))
    fields = record(store)
    assert fields["state"] == "failed"
    assert float(fields["finished_at"]) == 11.5
    assert json.loads(fields["error"]) == {
        "message": "job had succeeded, but its results on storage are incomplete: "
        "the result of chunk 1 is missing"
    }
    assert fields["planned"] == "0"  # no chunk plan for a job whose results do not add up
    assert not store.redis.exists(f"{store.job_key(JOB)}:chunks")


def test_a_failed_job_keeps_its_error_or_says_it_was_lost(
    store: RedisJobStore, tmp_path: Path
) -> None:
    job = Storage(tmp_path).job(JOB)
    m = manifest("in.csv", True)
    assert restore_closed(store, job, m, final("failed", 600, {"message": "model gone"}))
    assert json.loads(record(store)["error"]) == {"message": "model gone"}
    store.redis.flushall()
    assert restore_closed(store, job, m, final("failed", 600))
    lost = {"message": "job failed; its error report was lost with Redis's data"}
    assert json.loads(record(store)["error"]) == lost
    store.redis.flushall()
    assert restore_closed(store, job, m, final("cancelled", 600))
    fields = record(store)
    assert fields["state"] == "cancelled"
    assert "lost with Redis" not in fields.get("error", "")


def test_a_chunk_with_fewer_result_rows_than_input_rows_is_incomplete(tmp_path: Path) -> None:
    job = Storage(tmp_path).job(JOB)
    parts(job, (4,))
    result(job, 0, 3)
    with pytest.raises(IncompleteResults) as refused:
        scored_chunks(manifest("in.csv", True), job)
    assert str(refused.value) == "chunk 0 has 3 result rows for 4 input rows"


def test_split_parts_must_be_numbered_from_zero_without_gaps(tmp_path: Path) -> None:
    job = Storage(tmp_path).job(JOB)
    with pytest.raises(IncompleteResults) as refused:
        split_parts(job)
    assert str(refused.value) == "its input parts are gone"
    parts(job, (2, 5, 1))
    assert [(c.index, c.path, c.offset, c.rows) for c in split_parts(job)] == [
        (0, str(job.part(0)), 0, 2),
        (1, str(job.part(1)), 2, 5),
        (2, str(job.part(2)), 7, 1),
    ]
    job.part(0).unlink()
    with pytest.raises(IncompleteResults) as refused:
        split_parts(job)
    assert str(refused.value) == "input part 0 is missing"


def test_a_job_read_in_place_is_replanned_from_its_source(tmp_path: Path) -> None:
    job = Storage(tmp_path).job(JOB)
    source = source_with_groups(tmp_path / "inputs" / "book.parquet", (4, 4))
    chunks = planned_chunks(manifest(source, False), job)
    assert [(c.index, c.offset, c.rows) for c in chunks] == [(0, 0, 4), (1, 4, 4)]
    result(job, 0, 4)
    result(job, 1, 4)
    chunks, summaries = scored_chunks(manifest(source, False), job)
    assert [s.rows for s in summaries] == [4, 4]

    too_big = source_with_groups(tmp_path / "inputs" / "big.parquet", (9,))  # would be split
    with pytest.raises(IncompleteResults) as refused:
        planned_chunks(manifest(too_big, False), job)
    assert str(refused.value) == "its input changed since it was scored"

    with pytest.raises(IncompleteResults) as refused:
        planned_chunks(manifest(tmp_path / "inputs" / "gone.parquet", False), job)
    assert str(refused.value).startswith("its input cannot be read again (")
    assert isinstance(refused.value.__cause__, BadInput)

    with pytest.raises(IncompleteResults) as refused:
        planned_chunks(manifest(source, False).model_copy(update={"format": "xml"}), job)
    assert "unknown input format 'xml'" in str(refused.value)
