"""Batch rows in the decision record (real PostgreSQL, real worker processes): every row
of a job is recorded once under its ``(job, row)`` key, even when a worker is SIGKILLed
after writing a chunk's decisions but before its result file, and the chunk is scored
again by another worker."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry

from services.batch.api.app import create_app
from services.batch.worker.chunk import run_chunk
from services.batch.worker.record_block import chunk_block
from services.batch.worker.recording import TRACK, ChunkRecord, chunk_decisions
from services.batch.worker.scoring import score_frame
from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.record import InputsMode, to_row
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.store import DecisionStore
from services.core.decisions.writer import DecisionWriter
from services.core.model_store import LoadedModel
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import TestClient, WorkerProcess, wait_final, wait_for
from tests.integration.batch.harness import write_parquet as write
from tests.support.decision_tables import FIRST_SCHEMA
from tests.support.postgres import PostgresServer
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

N, CHUNK = 400_000, 50_000


def counts(dsn: str, job_id: str) -> tuple[int, int]:
    """(records of the job, distinct rows among them)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT row_index) FROM decisions WHERE job_id = %s",
            (job_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_sigkilled_worker_leaves_no_duplicate_record(
    redis: RedisServer,
    postgres: PostgresServer,
    tmp_path: Path,
    model_dir: Path,
    model: LoadedModel,
    spawn_worker: Callable[..., WorkerProcess],
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DECISIONS_DSN", postgres.dsn)  # the workers inherit it
    monkeypatch.setenv("DECISIONS_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("DECISIONS_BATCH_ROWS", "20000")
    settings = make_settings(
        redis, tmp_path, model_dir, chunk_rows=CHUNK, retry_backoff_seconds=[0, 1]
    )
    with TestClient(create_app(settings)) as client:
        write(applicants(N, 9), settings.storage_dir / "inputs" / "book.parquet", CHUNK)
        response = client.post("/api/v1/jobs", json={"path": "book.parquet"})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        results = settings.storage_dir / "jobs" / job_id / "results"
        first = spawn_worker(settings)

        def recorded_ahead_of_results() -> bool:
            """Some chunk's decisions are stored but its result file is not written."""
            done = len(list(results.glob("part-*.parquet"))) if results.exists() else 0
            return done >= 1 and counts(postgres.dsn, job_id)[0] > done * CHUNK

        wait_for("a chunk recorded but not finished", recorded_ahead_of_results, 300, 0.002)
        os.killpg(first.pid, signal.SIGKILL)  # the whole pod: no flush, no goodbye
        first.proc.wait(10)
        second = spawn_worker(settings)
        final = wait_final(client, job_id, 300)
        assert final["state"] == "succeeded", (final, second.output())
    assert counts(postgres.dsn, job_id) == (N, N)  # every row once
    assert "duplicates" not in second.output()


def test_a_chunk_scored_again_records_nothing_twice(
    postgres: PostgresServer,
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    from services.batch.domain import ChunkSpec

    source = write(applicants(5_000, 3), tmp_path / "in.parquet")
    spec = ChunkSpec(index=0, path=str(source), offset=0, rows=5_000)
    registry = CollectorRegistry()
    config = DecisionSettings(dsn=postgres.dsn, spool_dir=tmp_path / "spool")
    writer = DecisionWriter(config, DecisionMetrics(registry)).start()
    record = ChunkRecord(writer, "job-x", 1_767_225_600.0, "caller")
    out = tmp_path / "part-000000.parquet"
    run_chunk(model, spec, out, None, "w1", False, record=record, reasons_k=4)
    out.unlink()  # as if the worker died after the record, before the result
    run_chunk(model, spec, out, None, "w2", False, record=record, reasons_k=4)
    writer.close()
    assert counts(postgres.dsn, "job-x") == (5_000, 5_000)
    assert registry.get_sample_value("decisions_duplicates_skipped_total") == 5_000
    with psycopg.connect(postgres.dsn) as conn:
        row = conn.execute(
            "SELECT day, track, model_version, inputs, reasons FROM decisions WHERE row_index = 1"
        ).fetchone()
        declined = conn.execute(
            "SELECT reasons FROM decisions WHERE prediction = 1 AND job_id = 'job-x' LIMIT 1"
        ).fetchone()
    assert row is not None
    assert str(row[0]) == "2026-01-01"  # the job's submission day, stable across retries
    assert row[1] == "batch"
    assert row[2] == model.version
    assert set(row[3]) == {f.name for f in model.contract.features}
    assert declined is not None
    assert declined[0], "a declined row's reasons are recorded"
    first = declined[0][0]
    assert set(first) == {"feature", "value", "contribution", "statement"}
    assert first["contribution"] > 0
    result = pq.read_table(out).to_pylist()
    by_statement = {r["reason_1"] for r in result if r["reason_1"]}
    assert first["statement"] in by_statement


def stored(dsn: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        query = f"SELECT * FROM {table} ORDER BY decision_id"
        return list(conn.execute(query).fetchall())  # type: ignore[call-overload]


@pytest.mark.parametrize("mode", list(InputsMode))
def test_the_column_wise_record_stores_the_per_row_rows(
    postgres: PostgresServer,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    mode: InputsMode,
) -> None:
    """A chunk recorded column-wise (CSV COPY) and per row (``to_row`` + ``write_row``)
    stores the same rows; recording it again inserts nothing."""
    frame = applicants(4_000, 4)
    frame["student"] = frame["student"].astype("category")
    frame.loc[frame.index[::9], "balance"] = np.nan
    frame.loc[frame.index[::13], "student"] = None
    result = score_frame(model, frame, 1, reasons_k=4)
    job = ChunkRecord(None, "job-same", 1_767_225_600.0, "caller")  # type: ignore[arg-type]
    block = chunk_block(
        model.name, model.version, TRACK, model.contract.threshold,
        job.job_id, job.created_at, job.caller, frame, result,
    )  # fmt: skip
    decisions = [
        replace(d, decided_at=block.decided_at) for d in chunk_decisions(model, job, frame, result)
    ]
    store = DecisionStore(postgres.dsn, table="same_rows")  # partitions are per day: one table
    try:
        assert store.insert([to_row(d, mode, "salt") for d in decisions]) == 4_000
        before = stored(postgres.dsn, "same_rows")
        with psycopg.connect(postgres.dsn) as conn:
            conn.execute("DROP TABLE IF EXISTS old_rows")
            conn.execute("CREATE TABLE old_rows AS SELECT * FROM same_rows")
            conn.execute("DELETE FROM same_rows")
        assert store.insert_csv(block.csv(mode, "salt"), [block.day]) == 4_000
        assert store.insert_csv(block.csv(mode, "salt"), [block.day]) == 0  # recorded again
        assert store.insert(block.rows(mode, "salt")) == 0  # or replayed from the spool
        assert stored(postgres.dsn, "same_rows") == before
        with psycopg.connect(postgres.dsn) as conn:  # jsonb equal in SQL too
            differ = conn.execute(
                "SELECT count(*) FROM old_rows o JOIN same_rows n USING (day, decision_id) "
                "WHERE o.inputs::jsonb IS DISTINCT FROM n.inputs::jsonb "
                "OR o.reasons::jsonb IS DISTINCT FROM n.reasons::jsonb "
                "OR o.inputs_hash IS DISTINCT FROM n.inputs_hash "
                "OR o.probability <> n.probability"
            ).fetchone()
            conn.execute("DROP TABLE same_rows, old_rows")
        assert differ == (0,)
    finally:
        store.close()


def test_a_block_is_spooled_during_an_outage_and_replayed(
    postgres: PostgresServer,
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    frame = applicants(1_000, 6)
    result = score_frame(model, frame, 1, reasons_k=4)
    block = chunk_block(
        model.name, model.version, TRACK, model.contract.threshold,
        "job-spool", 1_767_225_600.0, "caller", frame, result,
    )  # fmt: skip
    registry = CollectorRegistry()
    down = DecisionSettings(dsn="postgresql://x@127.0.0.1:1/none", spool_dir=tmp_path / "spool")
    writer = DecisionWriter(down, DecisionMetrics(registry)).start()
    writer.submit_block(block)
    assert writer.flush(30)
    writer.close()
    assert registry.get_sample_value("decisions_spooled_total") == 1_000
    up = DecisionSettings(dsn=postgres.dsn, spool_dir=tmp_path / "spool")
    writer = DecisionWriter(up, DecisionMetrics(CollectorRegistry())).start()

    def replayed() -> bool:
        try:
            return counts(postgres.dsn, "job-spool") == (1_000, 1_000)
        except psycopg.errors.UndefinedTable:
            return False

    try:
        wait_for("the spool replayed", replayed, 60)
    finally:
        writer.close()
    expected = sorted(block.rows(InputsMode.VALUES), key=lambda r: r[1])
    got = [r for r in stored(postgres.dsn, "decisions") if r[5] == "job-spool"]
    json_columns = {11, 17}
    for new, old in zip(got, expected, strict=True):
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            assert a == (json.loads(b) if i in json_columns and b is not None else b), i


@pytest.mark.parametrize("layout", ["current", "first"])
def test_a_block_partly_stored_inserts_only_the_rest(
    postgres: PostgresServer,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    layout: str,
) -> None:
    """The straight COPY meets a stored key (here in the middle of the block: rows spooled
    and replayed, or an earlier block of a re-scored chunk): it is rolled back and the
    staging path inserts the missing rows only, in the same transaction. The same on a
    table of the first releases' layout (jsonb documents, full b-tree indexes)."""
    frame = applicants(3_000, 5)
    result = score_frame(model, frame, 1, reasons_k=4)
    block = chunk_block(
        model.name, model.version, TRACK, model.contract.threshold,
        "job-part", 1_767_225_600.0, "caller", frame, result,
    )  # fmt: skip
    rows = block.rows(InputsMode.VALUES)
    store = DecisionStore(postgres.dsn, table="part_rows")
    if layout == "first":
        with psycopg.connect(postgres.dsn) as conn:
            conn.execute(FIRST_SCHEMA.format(table="part_rows"))  # type: ignore[call-overload]
    try:
        assert store.insert(rows[1_000:2_000]) == 1_000
        assert store.insert_csv(block.csv(InputsMode.VALUES), [block.day]) == 2_000
        assert store.insert_csv(block.csv(InputsMode.VALUES), [block.day]) == 0
        (found,) = store.find_row("job-part", 1_500)  # by the job index
        assert found["reasons"] == json.loads(rows[1_499][17])
        assert len(store.find_row("job-part")) == 3_000
        with psycopg.connect(postgres.dsn) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT decision_id) FROM part_rows"
            ).fetchone()
            kind = conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'part_rows'::regclass AND attname = 'reasons'"
            ).fetchone()
            conn.execute("DROP TABLE part_rows")
        assert row == (3_000, 3_000)
        assert kind == ("jsonb" if layout == "first" else "json",)
    finally:
        store.close()
