"""Jobs Redis lost, registered again from their files (``services.batch.state.jobs``),
in-process against a real Redis: an unfinished job is re-queued (its chunks or its split),
one whose input is gone comes back failed saying why, a finished one gets its final
record back, and one job that cannot be restored does not hold up the others.
(``test_redis_recovery.py`` shows the same through the API and worker subprocesses.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from loguru import logger

from services.batch.domain import Manifest
from services.batch.settings import BatchSettings
from services.batch.state.backend import Backend
from services.batch.state.jobs import register, restore, restore_all
from services.batch.state.queue import chunk_task_id, split_task_id
from services.batch.state.recovery import planned
from services.batch.state.storage import JobPaths, write_json
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration


@contextmanager
def logged() -> Iterator[list[str]]:
    messages: list[str] = []

    def keep(message: Any) -> None:
        record = message.record
        messages.append(
            f"{record['level'].name} [{record['extra'].get('job_id')}] {record['message']}"
        )

    sink = logger.add(keep, level="WARNING")
    try:
        yield messages
    finally:
        logger.remove(sink)


@pytest.fixture
def backend(redis: RedisServer, tmp_path: Path) -> Iterator[Backend]:
    settings = BatchSettings(
        redis_url=redis.url,
        model_uri=str(tmp_path / "no-model"),
        storage_dir=tmp_path / "store",
        result_ttl_seconds=3600,
        log_json=False,
    )
    backend = Backend.connect(settings)
    try:
        yield backend
    finally:
        backend.redis.close()


def source(path: Path, groups: tuple[int, ...]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, pa.schema([("x", pa.int64())])) as writer:
        for rows in groups:
            writer.write_table(pa.table({"x": list(range(rows))}))
    return path


def stored_job(backend: Backend, job_id: str, src: Path, split: bool) -> JobPaths:
    paths = backend.storage.job(job_id)
    manifest = Manifest(
        job_id=job_id,
        created_at=3.0,
        kind="path",
        format="parquet",
        source=str(src),
        chunk_rows=4,
        split=split,
        model_uri="m",
    )
    write_json(paths.manifest, manifest.model_dump())
    return paths


def record(backend: Backend, job_id: str) -> dict[str, str]:
    raw = backend.redis.hgetall(backend.store.job_key(job_id))
    return {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]


def queued(backend: Backend) -> list[str]:
    return backend.enqueuer.queue.get_job_ids()


def test_an_unfinished_job_read_in_place_is_queued_again_chunk_by_chunk(
    backend: Backend, tmp_path: Path
) -> None:
    job_id = "a" * 32
    paths = stored_job(backend, job_id, source(tmp_path / "in" / "a.parquet", (4, 4, 2)), False)
    paths.results.mkdir(parents=True)
    (paths.results / "part-000000.parquet").write_bytes(b"scored already")
    with logged() as messages:
        assert restore(backend, job_id)
    fields = record(backend, job_id)
    assert (fields["state"], fields["recovered"], fields["planned"]) == ("queued", "1", "1")
    assert (fields["n_chunks"], fields["n_rows"]) == ("3", "10")
    assert queued(backend) == [chunk_task_id(job_id, i) for i in range(3)]
    assert messages == [
        f"WARNING [{job_id}] job {job_id} was lost from Redis: restored from storage and "
        "re-queued (1 chunk results already on storage are kept)"
    ]
    assert not restore(backend, job_id)  # Redis knows it now
    assert not restore(backend, "b" * 32)  # nothing on storage


def test_an_unfinished_split_job_is_queued_again_as_its_split(
    backend: Backend, tmp_path: Path
) -> None:
    job_id = "c" * 32
    stored_job(backend, job_id, tmp_path / "in" / "c.csv", True)  # its input is not read
    assert restore(backend, job_id)
    fields = record(backend, job_id)
    assert (fields["state"], fields["planned"], fields["n_rows"]) == ("queued", "0", "-1")
    assert queued(backend) == [split_task_id(job_id)]


def test_an_unfinished_job_whose_input_is_gone_comes_back_failed_saying_why(
    backend: Backend, tmp_path: Path
) -> None:
    job_id = "d" * 32
    gone = tmp_path / "in" / "gone.parquet"
    paths = stored_job(backend, job_id, gone, False)
    with logged() as messages:
        assert restore(backend, job_id)
    fields = record(backend, job_id)
    assert fields["state"] == "failed"
    error = json.loads(fields["error"])
    assert error["details"] == []
    assert error["message"].startswith(
        f"job was lost from Redis before it ended, and its input {gone} "
        "can no longer be read: not a readable Parquet file"
    )
    assert messages[0] == f"ERROR [{job_id}] {error['message']}"
    final = paths.read_final()
    assert final is not None
    assert final["state"] == "failed"
    assert final["error"] == error
    assert 3590 <= final["expires_at"] - final["finished_at"] <= 3600  # the results' TTL
    assert 3500 < backend.redis.ttl(backend.store.job_key(job_id)) <= 3600
    assert queued(backend) == []


def test_a_finished_job_gets_its_final_record_back(backend: Backend, tmp_path: Path) -> None:
    job_id = "e" * 32
    paths = stored_job(backend, job_id, tmp_path / "in" / "e.csv", True)
    paths.write_final("failed", 600, {"error": {"message": "model gone"}})
    assert restore(backend, job_id)
    assert json.loads(record(backend, job_id)["error"]) == {"message": "model gone"}
    assert queued(backend) == []


def test_restore_all_restores_every_lost_job_and_logs_the_one_it_cannot(
    backend: Backend, tmp_path: Path
) -> None:
    assert restore_all(backend) == []  # nothing on storage
    src = source(tmp_path / "in" / "f.parquet", (4,))
    lost, known, broken = "1" * 32, "2" * 32, "3" * 32
    stored_job(backend, lost, src, False)
    register(backend, stored_job(backend, known, src, False).read_manifest(), None)  # type: ignore[arg-type]
    backend.storage.job("4" * 32).dir.mkdir(parents=True)  # no manifest (yet): not a job
    bad = stored_job(backend, broken, src, False)
    bad.manifest.write_text("{not json")
    with logged() as messages:
        assert restore_all(backend) == [lost]
    assert next(m for m in messages if m.startswith("ERROR")).startswith(
        f"ERROR [{broken}] cannot restore job {broken}: "
    )
    assert "Invalid JSON" in next(m for m in messages if m.startswith("ERROR"))  # the cause
    assert record(backend, known)["recovered"] == "0"  # left as it was
    assert record(backend, lost)["recovered"] == "1"


def test_register_queues_a_planned_job_chunk_by_chunk_or_a_split_job_whole(
    backend: Backend, tmp_path: Path
) -> None:
    src = source(tmp_path / "in" / "g.parquet", (4, 3))
    planned_id, split_id = "5" * 32, "6" * 32
    manifest = stored_job(backend, planned_id, src, False).read_manifest()
    assert manifest is not None
    chunks = planned(manifest)
    assert register(backend, manifest, chunks) == planned_id
    fields = record(backend, planned_id)
    assert (fields["n_rows"], fields["n_chunks"], fields["recovered"]) == ("7", "2", "0")
    split = stored_job(backend, split_id, src, True).read_manifest()
    assert split is not None
    assert register(backend, split, None, recovered=True) == split_id
    assert record(backend, split_id)["recovered"] == "1"
    assert queued(backend) == [
        chunk_task_id(planned_id, 0),
        chunk_task_id(planned_id, 1),
        split_task_id(split_id),
    ]


def test_a_finished_job_that_succeeded_is_checked_against_its_results(
    backend: Backend, tmp_path: Path
) -> None:
    job_id = "7" * 32
    paths = stored_job(backend, job_id, tmp_path / "in" / "h.csv", True)
    paths.write_final("succeeded", 600)
    assert restore(backend, job_id)  # no parts, no results: not the succeeded it says
    assert "its input parts are gone" in json.loads(record(backend, job_id)["error"])["message"]


def test_a_registered_idempotency_key_lives_as_long_as_the_results(
    backend: Backend, tmp_path: Path
) -> None:
    job_id = "8" * 32
    manifest = stored_job(backend, job_id, tmp_path / "in" / "i.csv", True).read_manifest()
    assert manifest is not None
    keyed = manifest.model_copy(update={"idempotency": "cd" * 16})
    assert register(backend, keyed, None) == job_id
    assert 3500 < backend.redis.ttl(backend.store.idempotency_key("cd" * 16)) <= 3600
