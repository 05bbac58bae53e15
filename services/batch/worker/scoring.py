"""Score a table of applicants into a result table, and sum it up.

Result columns, in input order: ``row`` (1-based input row), the id column if the job
names one, ``probability`` (calibrated), ``prediction`` (0/1 at the contract threshold)
``risk_band`` (dictionary-encoded band name) and ``model_version`` (the version that
scored the row, dictionary-encoded: one value per chunk); see ``domain.RESULT_COLUMNS``.
With reason codes on (``BATCH_REASONS_TOP_K`` = k > 0), every row also gets, for i =
1..k, ``reason_i`` (the statement), ``reason_i_feature`` and ``reason_i_contribution``
(exact TreeSHAP, log-odds): the i-th largest positive contribution, null where fewer
than i features raised the row's score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from services.batch.domain import ChunkSummary
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from services.core.reasons import NO_REASON, top_reason_columns


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
    reasons_k: int = 0,
) -> pa.Table:
    encoded = encode_frame(model.contract.features, frame)
    return score_encoded(model, encoded, first_row, id_column, ids, reasons_k)


def score_encoded(
    model: LoadedModel,
    encoded: np.ndarray,
    first_row: int,
    id_column: str | None = None,
    ids: pa.ChunkedArray | None = None,
    reasons_k: int = 0,
) -> pa.Table:
    """The result table of an encoded (rows, features) matrix (see ``encode_frame``)."""
    proba = model.probabilities_of_many(encoded)
    table = result_table(model, proba, first_row, id_column, ids)
    if reasons_k:
        for name, column in reason_columns(model, encoded, reasons_k).items():
            table = table.append_column(name, column)
    return table


def result_table(
    model: LoadedModel,
    proba: np.ndarray,
    first_row: int,
    id_column: str | None = None,
    ids: pa.ChunkedArray | None = None,
) -> pa.Table:
    """Row numbers, the id column, probability, prediction, band and model version."""
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


def reason_columns(model: LoadedModel, encoded: np.ndarray, k: int) -> dict[str, pa.Array]:
    """``reason_i``, ``reason_i_feature``, ``reason_i_contribution`` for i = 1..k (exact
    TreeSHAP, once per group of rows every tree treats alike)."""
    statements = model.statements
    grouped, inverse = model.grouped_contributions(encoded)  # ranked once per group
    found = top_reason_columns(grouped, encoded, statements, k, inverse)
    texts, names = pa.array(statements.texts), pa.array(statements.names)
    columns: dict[str, pa.Array] = {}
    for i in range(k):
        none = found.feature[:, i] == NO_REASON
        columns[f"reason_{i + 1}"] = dictionary(found.statement[:, i], none, texts)
        columns[f"reason_{i + 1}_feature"] = dictionary(found.feature[:, i], none, names)
        columns[f"reason_{i + 1}_contribution"] = pa.array(
            found.contribution[:, i], pa.float64(), mask=none
        )
    return columns


def dictionary(codes: np.ndarray, none: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    indices = pa.array(np.where(none, 0, codes).astype(np.int32), mask=none)
    return pa.DictionaryArray.from_arrays(indices, values)


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
