"""Score a table of applicants into a result table, and read/write chunk result files.

Result columns, in input order: ``row`` (1-based input row), the id column if the job
names one, ``probability`` (calibrated), ``prediction`` (0/1 at the contract threshold)
and ``risk_band`` (dictionary-encoded band name). Each result file carries its chunk
summary (rows, predicted defaults, band counts, worker, model version) as metadata, so a
retried chunk whose file exists can report it without scoring again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.domain import ChunkSummary
from services.batch.storage import atomic_write
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

META_KEY = b"creditrisk.batch"
RESULT_COLUMNS = ("row", "probability", "prediction", "risk_band")


def score_table(
    model: LoadedModel, table: pa.Table, first_row: int = 1, id_column: str | None = None
) -> pa.Table:
    """Encode with the shared encoder, predict, and build the result table."""
    ids = table.column(id_column) if id_column else None
    return score_frame(model, table.to_pandas(), first_row, id_column, ids)


def score_frame(
    model: LoadedModel,
    frame: pd.DataFrame,
    first_row: int,
    id_column: str | None = None,
    ids: pa.ChunkedArray | None = None,
) -> pa.Table:
    proba = model.probabilities(encode_frame(model.contract.features, frame))
    names = pa.array([band.name for band in model.contract.risk_bands])
    bands = pa.DictionaryArray.from_arrays(pa.array(model.band_codes(proba)), names)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "row": pa.array(np.arange(first_row, first_row + len(proba), dtype=np.int64))
    }
    if id_column and ids is not None:
        columns[id_column] = ids
    columns["probability"] = pa.array(proba, pa.float64())
    columns["prediction"] = pa.array((proba >= model.contract.threshold).astype(np.int8))
    columns["risk_band"] = bands
    return pa.table(columns)


def summarise(result: pa.Table, worker: str = "", model_version: str = "") -> ChunkSummary:
    bands = result.column("risk_band").combine_chunks()
    counts = np.bincount(
        bands.indices.to_numpy(zero_copy_only=False), minlength=len(bands.dictionary)
    )
    positives = int(np.count_nonzero(result.column("prediction").to_numpy()))
    return ChunkSummary(
        result.num_rows,
        positives,
        {
            str(name): int(n)
            for name, n in zip(bands.dictionary.to_pylist(), counts, strict=True)
            if n
        },
        worker,
        model_version,
    )


def write_result(path: Path, result: pa.Table, summary: ChunkSummary, fsync: bool) -> None:
    meta = dict(result.schema.metadata or {})
    meta[META_KEY] = json.dumps(summary.metadata()).encode()
    table = result.replace_schema_metadata(meta)
    atomic_write(path, lambda tmp: write_table(table, tmp), fsync=fsync)


def write_table(table: pa.Table, where: Path | str) -> None:
    """Write results; only the band column is dictionary-encoded (trying it on unique
    probabilities and row numbers costs more than scoring them)."""
    pq.write_table(table, where, use_dictionary=["risk_band"])


def read_summary(path: Path) -> ChunkSummary:
    meta = pq.read_schema(path).metadata or {}
    data = json.loads(meta[META_KEY])
    return ChunkSummary(
        data["rows"],
        data["positives"],
        data["bands"],
        data.get("worker", ""),
        data.get("model_version", ""),
        skipped=True,
    )
