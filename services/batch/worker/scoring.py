"""Score a table of applicants into a result table, and sum it up.

Result columns, in input order: ``row`` (1-based input row), the id column if the job
names one, ``probability`` (calibrated), ``prediction`` (0/1 at the contract threshold)
``risk_band`` (dictionary-encoded band name) and ``model_version`` (the version that
scored the row, dictionary-encoded: one value per chunk); see ``domain.RESULT_COLUMNS``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from services.batch.domain import ChunkSummary
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel


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
    columns["model_version"] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(len(proba), dtype=np.int8)), pa.array([model.version])
    )
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
