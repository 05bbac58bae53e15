"""Storage rules found by the system suite: input paths the OS cannot take, Idempotency-Key
pointers that outlive Redis, and rebuilding a finished job's record from its files."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch.domain import ChunkSummary, ClosedJob
from services.batch.state.recovery import IncompleteResults, scored_chunks
from services.batch.state.result_files import write_result
from services.batch.state.storage import Storage, write_json
from tests.support.batch_jobs import job_manifest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["a\x00b.csv", "\ud975\udf0a.csv", "x" * 5_000])
def test_input_paths_the_os_cannot_take_are_not_found(tmp_path: Path, name: str) -> None:
    assert Storage(tmp_path).resolve_input(name) is None  # → 422, was a 500


def test_idempotency_key_pointer_lives_as_long_as_its_job(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    digest, job = "ab" * 16, storage.job("1" * 32)
    assert storage.job_for_key(digest) is None
    storage.remember_key(digest, job.job_id)
    assert storage.job_for_key(digest) == job.job_id
    write_json(job.manifest, job_manifest(job.job_id, idempotency=digest).model_dump())
    job.write_final("succeeded", ttl=0)
    assert storage.purge_expired(time.time() + 1) == [job.job_id]
    assert storage.job_for_key(digest) is None
    with pytest.raises(ValueError, match="digest"):
        storage.key_file("../escape")


def test_closed_job_fields_sum_what_its_chunks_report() -> None:
    chunks = [ChunkSummary(3, 1, {"low": 2, "high": 1}, "", "1"), ChunkSummary(2, 0, {"low": 2})]
    chunks[1].model_version = "1"
    fields = ClosedJob("succeeded", 5.0, None, chunks).fields()
    assert (fields["rows_done"], fields["chunks_done"], fields["positives"]) == (5, 2, 1)
    assert (fields["band:low"], fields["band:high"], fields["model:1"]) == (4, 1, 1)
    failed = ClosedJob("failed", 5.0, {"message": "boom"}).fields()
    assert failed["error"] == '{"message": "boom"}'
    assert failed["rows_done"] == 0


def test_a_split_job_is_rebuilt_from_its_parts_and_results_or_refused(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    job = storage.job("2" * 32)
    for index, rows in enumerate((4, 3)):
        pq.write_table(pa.table({"x": list(range(rows))}), _mkdir(job.part(index)))
        result = pa.table({"row": list(range(rows)), "risk_band": ["low"] * rows})
        write_result(_mkdir(job.result(index)), result, ChunkSummary(rows, 0, {"low": rows}), False)
    manifest = job_manifest(job.job_id)
    chunks, summaries = scored_chunks(manifest, job)
    assert [(c.index, c.offset, c.rows) for c in chunks] == [(0, 0, 4), (1, 4, 3)]
    assert [s.rows for s in summaries] == [4, 3]
    job.result(1).unlink()
    with pytest.raises(IncompleteResults, match="the result of chunk 1 is missing"):
        scored_chunks(manifest, job)


def _mkdir(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
