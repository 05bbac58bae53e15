"""Score one chunk: the code every worker, retry and the in-process fallback run.

Idempotent by construction: if the chunk's result file exists (an earlier attempt
finished it), nothing is scored and its stored summary is returned; otherwise the rows are
read (only this chunk's row groups and the needed columns), validated, scored and written
to a temporary file renamed into place. A kill at any point leaves either no result file
or a complete one, never a partial or duplicated chunk. With the decision record on, the
chunk's decisions are written (or spooled) before its result file is published, with
idempotent keys.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.checks import check_frame, dictionary_columns, needed_columns
from services.batch.domain import BadInput, ChunkSpec, ChunkSummary
from services.batch.state.result_files import read_summary, write_result
from services.batch.worker.arrow_encoding import encode_checked
from services.batch.worker.recording import ChunkRecord, publish_recorded, submit_record
from services.batch.worker.scoring import score_grouped, summarise
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel


def run_chunk(
    model: LoadedModel,
    spec: ChunkSpec,
    result_path: Path,
    id_column: str | None,
    worker: str = "",
    fsync: bool = True,
    *,
    record: ChunkRecord | None = None,
    reasons_k: int = 0,
) -> ChunkSummary:
    if result_path.exists():
        return read_summary(result_path)
    started = time.perf_counter()
    table = read_chunk(model, spec, id_column)
    encoded = encode_chunk(model, table, spec.offset)
    ids = table.column(id_column) if id_column else None
    result, groups = score_grouped(model, encoded, spec.offset + 1, id_column, ids, reasons_k)
    summary = summarise(result, worker, model.version)
    if record is None:
        write_result(result_path, result, summary, fsync)
    else:  # the record committed before the result file is published (worker/recording.py)
        pending = submit_record(model, record, table, result, spec.index, groups=groups)
        publish_recorded(pending, result_path, lambda p: write_result(p, result, summary, fsync))
    summary.seconds = time.perf_counter() - started
    return summary


def encode_chunk(model: LoadedModel, table: pa.Table, offset: int) -> np.ndarray:
    """The chunk's encoded feature matrix, its rows checked against the contract: straight
    from the Arrow columns when their types allow and every value passes, else through
    pandas (``check_frame`` reports the problems with their input rows)."""
    features = model.contract.features
    encoded = encode_checked(table, features)
    if encoded is not None:
        return encoded
    frame = feature_frame(model, table)
    check_frame(frame, features, offset)
    return encode_frame(features, frame)


def feature_frame(model: LoadedModel, table: pa.Table) -> pd.DataFrame:
    return table.select([f.name for f in model.contract.features]).to_pandas()


def read_chunk(model: LoadedModel, spec: ChunkSpec, id_column: str | None) -> pa.Table:
    features = model.contract.features
    try:
        schema = pq.read_schema(spec.path)
        source = pq.ParquetFile(spec.path, read_dictionary=dictionary_columns(schema, features))
    except pa.ArrowInvalid as exc:  # unreadable for good; I/O errors (OSError) are retried
        raise BadInput(f"cannot read chunk {spec.index} input {spec.path}: {exc}") from exc
    columns = needed_columns(features, id_column)
    if spec.row_groups is None:
        table = source.read(columns=columns)
    else:
        table = source.read_row_groups(range(*spec.row_groups), columns=columns)
    if table.num_rows != spec.rows:
        raise BadInput(
            f"input changed since submit: chunk {spec.index} has {table.num_rows} "
            f"rows, expected {spec.rows}"
        )
    return table
