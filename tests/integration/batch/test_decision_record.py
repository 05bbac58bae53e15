"""Batch rows in the decision record (real PostgreSQL, real worker processes): every row
of a job is recorded once under its ``(job, row)`` key, even when a worker is SIGKILLed
after writing a chunk's decisions but before its result file, and the chunk is scored
again by another worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry

from services.batch.api.app import create_app
from services.batch.worker.chunk import run_chunk
from services.batch.worker.record_block import chunk_block
from services.batch.worker.recording import ChunkRecord, chunk_decisions
from services.batch.worker.scoring import score_frame, score_grouped
from services.core.decisions.chunk import GROUPED_FORMAT, PAYLOAD_FORMAT, ChunkDocument
from services.core.decisions.chunk_codec import RowGroups, chunk_document
from services.core.decisions.export import SCHEMA as EXPORT_SCHEMA
from services.core.decisions.export import write_export
from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.record import COLUMNS, BatchLayout, InputsMode, to_row
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.store import CHUNK_SCHEMA, DecisionStore
from services.core.decisions.writer import DecisionWriter
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import TestClient, WorkerProcess, wait_final, wait_for
from tests.integration.batch.harness import write_parquet as write
from tests.support.decision_tables import FIRST_SCHEMA
from tests.support.postgres import PostgresServer
from tests.support.processes import RedisServer, coverage_env
from tests.unit.batch.test_record_block import batch_header

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]

N, CHUNK = 400_000, 50_000


def counts(dsn: str, job_id: str) -> tuple[int, int]:
    """(records of the job, distinct rows among them), in either layout: per-row records,
    plus the rows of the job's recorded chunks (each chunk's row range)."""
    total = distinct = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for query in (
            "SELECT count(*), count(DISTINCT row_index) FROM decisions WHERE job_id = %s",
            "SELECT count(*), count(DISTINCT r) FROM decision_chunks, "
            "generate_series(first_row, last_row) AS r WHERE job_id = %s",
        ):
            try:
                row = conn.execute(query, (job_id,)).fetchone()  # type: ignore[arg-type]
            except psycopg.errors.UndefinedTable:
                continue
            assert row is not None
            total, distinct = total + int(row[0]), distinct + int(row[1])
    return total, distinct


def recorded(dsn: str, job_id: str) -> int:
    """Decisions of the job recorded so far, in either layout (cheap: polled)."""
    total = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for query in (
            "SELECT count(*) FROM decisions WHERE job_id = %s",
            "SELECT coalesce(sum(row_count), 0) FROM decision_chunks WHERE job_id = %s",
        ):
            try:
                row = conn.execute(query, (job_id,)).fetchone()  # type: ignore[arg-type]
            except psycopg.errors.UndefinedTable:
                continue
            total += int(row[0]) if row is not None else 0
    return total


@pytest.mark.parametrize("layout", list(BatchLayout))
def test_sigkilled_worker_leaves_no_duplicate_record(
    layout: BatchLayout,
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
    monkeypatch.setenv("DECISIONS_BATCH_LAYOUT", layout.value)
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
            return done >= 1 and recorded(postgres.dsn, job_id) > done * CHUNK

        wait_for("a chunk recorded but not finished", recorded_ahead_of_results, 300, 0.002)
        os.killpg(first.pid, signal.SIGKILL)  # the whole pod: no flush, no goodbye
        first.proc.wait(10)
        second = spawn_worker(settings)
        final = wait_final(client, job_id, 300)
        assert final["state"] == "succeeded", (final, second.output())
    assert counts(postgres.dsn, job_id) == (N, N)  # every row once
    assert "duplicates" not in second.output()


@pytest.mark.parametrize("layout", list(BatchLayout))
def test_a_chunk_scored_again_records_nothing_twice(
    layout: BatchLayout,
    postgres: PostgresServer,
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    from services.batch.domain import ChunkSpec

    job_id = f"job-x-{layout.value}"
    source = write(applicants(5_000, 3), tmp_path / "in.parquet")
    spec = ChunkSpec(index=0, path=str(source), offset=0, rows=5_000)
    registry = CollectorRegistry()
    config = DecisionSettings(dsn=postgres.dsn, spool_dir=tmp_path / "spool", batch_layout=layout)
    writer = DecisionWriter(config, DecisionMetrics(registry)).start()
    record = ChunkRecord(writer, job_id, 1_767_225_600.0, "caller")
    out = tmp_path / "part-000000.parquet"
    run_chunk(model, spec, out, None, "w1", False, record=record, reasons_k=4)
    out.unlink()  # as if the worker died after the record, before the result
    run_chunk(model, spec, out, None, "w2", False, record=record, reasons_k=4)
    writer.close()
    assert counts(postgres.dsn, job_id) == (5_000, 5_000)
    assert registry.get_sample_value("decisions_recorded_total") == 5_000  # rows
    assert registry.get_sample_value("decisions_duplicates_skipped_total") == 5_000
    store = DecisionStore(postgres.dsn)
    (row,) = store.find_row(job_id, 1)
    every = store.find_row(job_id)
    assert [r["row_index"] for r in every] == list(range(1, 5_001))
    declined = next(r for r in every if r["prediction"] == 1)
    assert str(row["day"]) == "2026-01-01"  # the job's submission day, stable across retries
    assert row["track"] == "batch"
    assert row["model_version"] == model.version
    assert set(row["inputs"]) == {f.name for f in model.contract.features}
    assert declined["reasons"], "a declined row's reasons are recorded"
    first = declined["reasons"][0]
    assert set(first) == {"feature", "value", "contribution", "statement"}
    assert first["contribution"] > 0
    result = pq.read_table(out).to_pylist()
    by_statement = {r["reason_1"] for r in result if r["reason_1"]}
    assert first["statement"] in by_statement
    if layout is BatchLayout.CHUNK:
        out.unlink()  # the record does not depend on the result files
        assert store.find_row(job_id, 4_321)[0]["row_index"] == 4_321
        with psycopg.connect(postgres.dsn) as conn:
            assert conn.execute(
                "SELECT count(*), sum(row_count), min(payload_format) FROM decision_chunks "
                "WHERE job_id = %s",
                (job_id,),
            ).fetchone() == (1, 5_000, GROUPED_FORMAT)  # from the scoring's groups


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
    block = chunk_block(batch_header(model, job.job_id, job.created_at), frame, result)
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
    block = chunk_block(batch_header(model, "job-spool", 1_767_225_600.0), frame, result)
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
    block = chunk_block(batch_header(model, "job-part", 1_767_225_600.0), frame, result)
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


def chunk_of(
    model: LoadedModel,
    frame: pd.DataFrame,
    result: pa.Table,
    job_id: str,
    mode: InputsMode,
    groups: RowGroups | None = None,
) -> ChunkDocument:
    """The chunk's document: format 4 with the scoring's ``groups``, else format 3."""
    head = batch_header(model, job_id, 1_767_225_600.0)
    doc = chunk_document(head, 0, frame, result, mode, "salt", groups=groups)
    assert doc.payload_format == (PAYLOAD_FORMAT if groups is None else GROUPED_FORMAT)
    return doc


def scored(model: LoadedModel, frame: pd.DataFrame) -> tuple[pa.Table, RowGroups]:
    """``score_frame`` with k = 4, and the groups the scoring ranked the reasons in."""
    encoded = encode_frame(model.contract.features, frame)
    result, groups = score_grouped(model, encoded, 1, reasons_k=4)
    assert groups is not None
    return result, groups


@pytest.mark.parametrize("grouped", [False, True], ids=["format-3", "format-4"])
@pytest.mark.parametrize("mode", list(InputsMode))
def test_the_chunk_layout_answers_as_the_row_layout(
    postgres: PostgresServer,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    mode: InputsMode,
    grouped: bool,
) -> None:
    """A chunk recorded as one document and the same chunk recorded per row: the look-ups
    answer the same rows (inputs or their digests, reasons, scores); again inserts nothing."""
    frame = applicants(2_000, 7)
    frame["student"] = frame["student"].astype("category")
    frame.loc[frame.index[::9], "balance"] = np.nan
    result, groups = scored(model, frame)
    block = chunk_block(batch_header(model, "job-cmp-row", 1_767_225_600.0), frame, result)
    doc = chunk_of(model, frame, result, "job-cmp-chunk", mode, groups if grouped else None)
    store = DecisionStore(postgres.dsn, table="cmp_rows", chunk_table="cmp_chunks")
    try:
        assert store.insert_csv(block.csv(mode, "salt"), [block.day]) == 2_000
        assert store.insert_chunk(doc) == 2_000
        assert store.insert_chunk(doc) == 0  # recorded again: nothing twice
        per_row, per_chunk = store.find_row("job-cmp-row"), store.find_row("job-cmp-chunk")
        assert len(per_row) == len(per_chunk) == 2_000
        for a, b in zip(per_row, per_chunk, strict=True):
            for key in ("decision_id", "job_id"):
                a.pop(key), b.pop(key)
            a.pop("decided_at"), b.pop("decided_at")
            assert a == b
        (one,) = store.find_row("job-cmp-chunk", 1_234)
        assert one["row_index"] == 1_234
        assert one["decision_id"] == "job:job-cmp-chunk:1234"
        assert store.find_row("job-cmp-chunk", 2_001) == []
    finally:
        store.close()
        with psycopg.connect(postgres.dsn) as conn:
            conn.execute("DROP TABLE IF EXISTS cmp_rows, cmp_chunks")


def payload_storage(dsn: str, table: str) -> list[str]:
    """``attstorage`` of ``payload`` in the table and each of its partitions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.attstorage FROM pg_attribute a WHERE a.attname = 'payload' AND "
            "a.attrelid IN (SELECT %s::regclass UNION ALL "
            "SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)",
            (table, table),
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def test_chunk_payloads_are_stored_without_pglz_and_old_tables_are_altered(
    postgres: PostgresServer,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    """The zstd payload is stored out of line as it is (``STORAGE EXTERNAL``): a new chunk
    table and its partitions, and a table made by an earlier release (default storage, a
    partition and a chunk already in it) once a store opens it; old and new chunks read
    back the same."""
    frame = applicants(2_000, 4)
    result, groups = scored(model, frame)
    old_doc = chunk_of(model, frame, result, "job-storage-old", InputsMode.VALUES)  # format 3
    new_doc = chunk_of(model, frame, result, "job-storage-new", InputsMode.VALUES, groups)
    before = DecisionStore(postgres.dsn, table="st_rows", chunk_table="st_chunks")
    try:
        with psycopg.connect(postgres.dsn, autocommit=True) as conn:  # an earlier release's
            conn.execute(CHUNK_SCHEMA.format(table="st_chunks"))  # type: ignore[call-overload]
        before._chunk_schema_ready = True  # as a store of that release left it
        assert before.insert_chunk(old_doc) == 2_000
        assert payload_storage(postgres.dsn, "st_chunks") == ["x", "x"]
    finally:
        before.close()
    store = DecisionStore(postgres.dsn, table="st_rows", chunk_table="st_chunks")
    try:
        assert store.insert_chunk(new_doc) == 2_000
        assert payload_storage(postgres.dsn, "st_chunks") == ["e", "e"]
        old, new = store.find_row("job-storage-old"), store.find_row("job-storage-new")
        assert len(old) == len(new) == 2_000
        for a, b in zip(old, new, strict=True):
            assert a.pop("job_id") == "job-storage-old"
            assert b.pop("job_id") == "job-storage-new"
            for key in ("decision_id", "decided_at"):
                a.pop(key), b.pop(key)
            assert a == b
    finally:
        store.close()
    fresh = DecisionStore(postgres.dsn, table="st_rows2", chunk_table="st_chunks2")
    try:
        assert fresh.insert_chunk(new_doc) == 2_000
        assert payload_storage(postgres.dsn, "st_chunks2") == ["e", "e"]
    finally:
        fresh.close()
        with psycopg.connect(postgres.dsn) as conn:
            conn.execute("DROP TABLE IF EXISTS st_rows, st_chunks, st_rows2, st_chunks2")


def test_a_chunk_is_spooled_during_an_outage_and_replayed(
    postgres: PostgresServer,
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    frame = applicants(1_500, 6)
    result, groups = scored(model, frame)
    doc = chunk_of(model, frame, result, "job-chunk-spool", InputsMode.HASH, groups)
    registry = CollectorRegistry()
    down = DecisionSettings(dsn="postgresql://x@127.0.0.1:1/none", spool_dir=tmp_path / "spool")
    writer = DecisionWriter(down, DecisionMetrics(registry)).start()
    writer.submit_chunk(doc)
    assert writer.flush(30)
    writer.close()
    assert registry.get_sample_value("decisions_spooled_total") == 1_500
    assert [p.suffix for p in (tmp_path / "spool").iterdir()] == [".chunk"]
    up = DecisionSettings(dsn=postgres.dsn, spool_dir=tmp_path / "spool")
    replay_registry = CollectorRegistry()
    writer = DecisionWriter(up, DecisionMetrics(replay_registry)).start()
    try:
        wait_for(
            "the spool replayed", lambda: recorded(postgres.dsn, "job-chunk-spool") == 1_500, 60
        )
        wait_for("the spool emptied", lambda: not list((tmp_path / "spool").iterdir()), 30)
    finally:
        writer.close()
    assert replay_registry.get_sample_value("decisions_replayed_total") == 1_500
    assert replay_registry.get_sample_value("decisions_recorded_total") == 1_500
    stored_rows = DecisionStore(postgres.dsn).find_row("job-chunk-spool")
    assert [r["inputs_hash"] for r in stored_rows] == [
        r[COLUMNS.index("inputs_hash")]
        for r in chunk_block(
            batch_header(model, "job-chunk-spool", 1_767_225_600.0), frame, result
        ).rows(InputsMode.HASH, "salt")
    ]
    assert all(r["inputs"] is None for r in stored_rows)


def test_chunks_are_exported_row_by_row_and_dropped_by_retention(
    postgres: PostgresServer,
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    frame = applicants(300, 8)
    result, groups = scored(model, frame)
    today = datetime.now(UTC).date()
    store = DecisionStore(postgres.dsn, table="exp_rows", chunk_table="exp_chunks")
    doc = replace(
        chunk_of(model, frame, result, "job-export", InputsMode.VALUES, groups), day=today
    )  # format 4; the old one format 3: both exported alike
    old = replace(
        chunk_of(model, frame, result, "job-old", InputsMode.VALUES),
        day=today - timedelta(days=40),
    )
    try:
        assert store.insert_chunk(doc) == store.insert_chunk(old) == 300
        rows = list(
            store.export(datetime(2026, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1))
        )
        mine = [r for r in rows if r["job_id"] == "job-export"]
        assert [r["row_index"] for r in mine] == list(range(1, 301))
        out = tmp_path / "chunks.parquet"
        assert write_export(iter(rows), out, "parquet") == 600
        exported = pq.read_table(out)
        assert exported.schema == EXPORT_SCHEMA  # the same columns as per-row decisions
        first = exported.to_pylist()[0]
        assert json.loads(first["inputs"]) == store.find_row(first["job_id"], 1)[0]["inputs"]
        csv = tmp_path / "chunks.csv"  # the CLI: the chunks of the version, row by row
        env = {
            "DECISIONS_DSN": postgres.dsn,
            "DECISIONS_TABLE": "exp_rows",
            "DECISIONS_CHUNK_TABLE": "exp_chunks",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            **coverage_env(),  # measured by `make coverage` too
        }
        since, until = f"{today - timedelta(days=60)}", f"{today}"
        done = subprocess.run(
            [sys.executable, "-m", "services.core.decisions", "export", "--since", since,
             "--until", until, "--model-version", model.version, "--format", "csv",
             "--out", str(csv)],
            env=env, capture_output=True, text=True, check=False, cwd=REPO,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        frame_out = pd.read_csv(csv)
        assert len(frame_out) == 600
        assert list(frame_out.columns) == EXPORT_SCHEMA.names
        assert set(frame_out["job_id"]) == {"job-export", "job-old"}
        assert frame_out["inputs"].iloc[0] == exported.column("inputs")[0].as_py()
        dropped = store.drop_expired(retention_days=30, today=today)
        assert dropped == [f"exp_chunks_{old.day:%Y%m%d}"]
        assert store.find_row("job-old") == []
        assert len(store.find_row("job-export")) == 300
    finally:
        store.close()
        with psycopg.connect(postgres.dsn) as conn:
            conn.execute("DROP TABLE IF EXISTS exp_rows, exp_chunks")
