"""``services.batch.worker.chunk`` beyond the happy path of ``test_chunk_and_results.py``:
a chunk reads only its needed columns (from its row groups or the whole file), a file
that is not Parquet is bad input naming the chunk, rows the Arrow fast path does not
take are encoded through pandas alike, the summary's defaults and its time, the result
file synced to disk by default, and the record filed under the chunk's index."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry

from services.batch.domain import BadInput, ChunkSpec
from services.batch.state import storage
from services.batch.worker.chunk import encode_chunk, read_chunk, run_chunk
from services.batch.worker.recording import ChunkRecord
from services.batch.worker.scoring import score_frame, summarise
from services.core.decisions.chunk import ChunkDocument
from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.writer import DecisionWriter
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit
Applicants = Callable[[int, int], pd.DataFrame]


def written(tmp_path: Path, applicants: Applicants, rows: int = 300) -> tuple[Path, pd.DataFrame]:
    frame = applicants(rows, 5)
    frame["applicant"] = [f"a{i}" for i in range(rows)]
    frame["unused"] = 7.0
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=100)
    return source, frame


def test_a_chunk_reads_only_the_features_and_the_id_column(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    source, frame = written(tmp_path, applicants)
    names = [f.name for f in model.contract.features]
    whole = read_chunk(model, ChunkSpec(0, str(source), 0, 300), "applicant")
    assert whole.column_names == [*names, "applicant"]
    assert whole.column("applicant").to_pylist() == frame["applicant"].tolist()
    middle = read_chunk(model, ChunkSpec(1, str(source), 100, 100, (1, 2)), None)
    assert middle.column_names == names
    for name in names:  # rows 101..200: the second row group
        assert middle.column(name).to_pylist() == frame[name].iloc[100:200].tolist()


def test_a_chunk_input_that_is_not_parquet_is_bad_input_naming_the_chunk(
    tmp_path: Path, model: LoadedModel
) -> None:
    source = tmp_path / "in.parquet"
    source.write_text("not parquet\n")
    with pytest.raises(BadInput, match=f"cannot read chunk 4 input {source}: "):
        read_chunk(model, ChunkSpec(4, str(source), 0, 1), None)


def test_rows_the_arrow_path_does_not_take_are_encoded_through_pandas_alike(
    model: LoadedModel, applicants: Applicants
) -> None:
    frame = applicants(200, 6)
    numeric = next(f.name for f in model.contract.features if not f.is_categorical)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    at = table.schema.get_field_index(numeric)  # float16: not a type the Arrow path encodes
    half = table.set_column(at, numeric, table.column(numeric).cast(pa.float16()))
    names = [f.name for f in model.contract.features]
    expected = encode_frame(model.contract.features, half.select(names).to_pandas())
    got = encode_chunk(model, half, 0)
    assert got.shape == (200, len(names))
    assert (got == expected).all()


def test_the_summary_s_defaults_and_time_and_the_result_synced_to_disk(
    tmp_path: Path,
    model: LoadedModel,
    applicants: Applicants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, frame = written(tmp_path, applicants)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    path = tmp_path / "part-000000.parquet"
    before = time.perf_counter()
    summary = run_chunk(model, ChunkSpec(0, str(source), 0, 300), path, None)
    took = time.perf_counter() - before
    assert (summary.rows, summary.worker) == (300, "")
    assert 0 < summary.seconds <= took
    assert synced, "the result file is fsynced unless told otherwise"
    synced.clear()
    run_chunk(model, ChunkSpec(0, str(source), 0, 300), tmp_path / "b.parquet", None, "w", False)
    assert synced == []
    expected = score_frame(model, frame, 1)
    assert pq.read_table(path).column("probability").equals(expected.column("probability"))


class Store:
    def __init__(self) -> None:
        self.chunks: list[ChunkDocument] = []

    def insert_chunk(self, doc: ChunkDocument) -> int:
        self.chunks.append(doc)
        return len(doc)

    def close(self) -> None:
        pass


def test_a_recorded_chunk_is_filed_under_its_index_and_synced(
    tmp_path: Path,
    model: LoadedModel,
    applicants: Applicants,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, _ = written(tmp_path, applicants)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    store = Store()
    settings = DecisionSettings(dsn="postgresql://unused@127.0.0.1:1/x", spool_dir=tmp_path / "sp")
    writer = DecisionWriter(settings, DecisionMetrics(CollectorRegistry()), store)  # type: ignore[arg-type]
    writer.start()
    record = ChunkRecord(writer, "job-index", 1_767_225_600.0, "caller")
    path = tmp_path / "part-000002.parquet"
    try:
        run_chunk(model, ChunkSpec(2, str(source), 200, 100, (2, 3)), path, None, record=record)
    finally:
        writer.close(5)
    assert [(d.chunk_index, d.first_row, d.last_row) for d in store.chunks] == [(2, 201, 300)]
    assert path.exists()
    assert synced, "the recorded chunk's result file is fsynced unless told otherwise"


def test_a_summary_names_no_worker_and_no_version_unless_given(
    model: LoadedModel, applicants: Applicants
) -> None:
    result = score_frame(model, applicants(50, 8), 1)
    summary = summarise(result)
    assert (summary.rows, summary.worker, summary.model_version) == (50, "", "")
    assert sum(summary.bands.values()) == 50


def test_reason_columns_count_exactly_their_nulls(
    model: LoadedModel, applicants: Applicants
) -> None:
    result = score_frame(model, applicants(300, 10), 1, reasons_k=3)
    for i in (1, 2, 3):
        for name in (f"reason_{i}", f"reason_{i}_feature", f"reason_{i}_contribution"):
            column = result.column(name)
            column.validate(full=True)
            assert column.null_count == column.to_pylist().count(None), name
    assert result.column("reason_1").null_count < 300
