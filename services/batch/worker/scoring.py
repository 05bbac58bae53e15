"""Score a table of applicants into a result table, and sum it up.

Result columns, in input order: ``row`` (1-based input row), the id column if the job
names one, ``probability`` (calibrated), ``prediction`` (0/1 at the contract threshold)
``risk_band`` (dictionary-encoded band name) and ``model_version`` (the version that
scored the row, dictionary-encoded: one value per chunk); see ``domain.RESULT_COLUMNS``.
With reason codes on (``BATCH_REASONS_TOP_K`` = k > 0), every row also gets, for i =
1..k, ``reason_i`` (the statement), ``reason_i_feature`` and ``reason_i_contribution``
(exact TreeSHAP, log-odds): the i-th largest positive contribution; where fewer than i
features raised the row's score, ``""``, ``""`` and NaN (non-nullable columns, so the
result file's are REQUIRED: ``services.core.reason_layout``; readers show null there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from services.batch.domain import ChunkSummary
from services.core.decisions.chunk_codec import RowGroups
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from services.core.reason_layout import NO_REASON_TEXT
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
    return score_grouped(model, encoded, first_row, id_column, ids, reasons_k)[0]


def score_grouped(
    model: LoadedModel,
    encoded: np.ndarray,
    first_row: int,
    id_column: str | None = None,
    ids: pa.ChunkedArray | None = None,
    reasons_k: int = 0,
) -> tuple[pa.Table, RowGroups | None]:
    """``score_encoded`` and, with reasons, the groups it ranked them in (``RowGroups``:
    each row's group, and the outcome and reason columns once per group), which the
    decision record stores instead of repeating them per row (a few small arrays: the
    reasons are ranked per group anyway). None when the rows were not grouped
    (``reason_groups`` cannot number them) or without reasons."""
    keys = model.split_bins.keys(encoded) if reasons_k else None  # shared by both
    proba = model.probabilities_of_many(encoded, keys)
    table = result_table(model, proba, first_row, id_column, ids)
    if not reasons_k:
        return table, None
    per_group, rows, first = _grouped_reasons(model, encoded, reasons_k, keys)
    group = None if rows is None else _indices(rows)
    for name, column in _per_row(per_group, group).items():
        table = table.append_column(pa.field(name, column.type, nullable=False), column)
    if group is None or first is None or group.dtype != np.int32:
        return table, None
    # every row of a group has its representative's probability (the groups refine the
    # split-bin keys, which fix the margin); the record checks it (``reproduces``)
    outcome = outcome_columns(model, proba[first])
    return table, RowGroups(group, pa.table({**outcome, **per_group}))


def result_table(
    model: LoadedModel,
    proba: np.ndarray,
    first_row: int,
    id_column: str | None = None,
    ids: pa.ChunkedArray | None = None,
) -> pa.Table:
    """Row numbers, the id column, probability, prediction, band and model version."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "row": pa.array(np.arange(first_row, first_row + len(proba), dtype=np.int64))
    }
    if id_column and ids is not None:
        columns[id_column] = ids
    columns.update(outcome_columns(model, proba))
    columns["model_version"] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(len(proba), dtype=np.int8)), pa.array([model.version])
    )
    return pa.table(columns)


def outcome_columns(model: LoadedModel, proba: np.ndarray) -> dict[str, pa.Array]:
    """``probability``, ``prediction`` (at the contract threshold) and ``risk_band``
    (dictionary-encoded band name) of each probability."""
    names = pa.array([band.name for band in model.contract.risk_bands])
    bands = pa.DictionaryArray.from_arrays(pa.array(model.band_codes(proba)), names)
    return {
        "probability": pa.array(proba, pa.float64()),
        "prediction": pa.array((proba >= model.contract.threshold).astype(np.int8)),
        "risk_band": bands,
    }


def reason_columns(
    model: LoadedModel, encoded: np.ndarray, k: int, keys: np.ndarray | None = None
) -> dict[str, pa.Array]:
    """``reason_i``, ``reason_i_feature``, ``reason_i_contribution`` for i = 1..k (exact
    TreeSHAP, ranked once per group of rows with the same reasons; ``reason_groups``).
    ``keys``: the rows' ``split_bins.keys``, when the caller has them. No nulls: a row
    without an i-th reason has ``""`` (the dictionaries' last entry) and NaN
    (``reason_layout``), so the result file's columns are REQUIRED."""
    per_group, rows, _ = _grouped_reasons(model, encoded, k, keys)
    return _per_row(per_group, None if rows is None else _indices(rows))


def _grouped_reasons(
    model: LoadedModel, encoded: np.ndarray, k: int, keys: np.ndarray | None
) -> tuple[dict[str, pa.Array], np.ndarray | None, np.ndarray | None]:
    """``reason_columns`` once per group, each row's group and one row of each group
    (None, None: one group per row, the columns are the rows')."""
    statements = model.statements
    grouped = model.reason_groups.columns(encoded, k, keys)
    first: np.ndarray | None
    if grouped is None:  # rows or a model the groups cannot number: per chunk's groups
        contributions, inverse = model.grouped_contributions(encoded)
        found = top_reason_columns(contributions, encoded, statements, k, inverse)
        groups, rows, first = found, None, None
    else:
        groups, rows, first = grouped.groups, grouped.inverse, grouped.first
    texts = pa.array([*statements.texts, NO_REASON_TEXT], pa.string())
    names = pa.array([*statements.names, NO_REASON_TEXT], pa.string())
    none = groups.feature == NO_REASON  # (groups, k)
    statement = np.where(none, len(texts) - 1, groups.statement).astype(np.int32)
    feature = np.where(none, len(names) - 1, groups.feature).astype(np.int32)
    columns: dict[str, pa.Array] = {}
    for i in range(k):
        # NaN exactly where there is no reason (top_reason_columns)
        columns[f"reason_{i + 1}"] = dictionary(_array(pa.int32(), statement[:, i]), texts)
        columns[f"reason_{i + 1}_feature"] = dictionary(_array(pa.int32(), feature[:, i]), names)
        columns[f"reason_{i + 1}_contribution"] = _array(pa.float64(), groups.contribution[:, i])
    return columns, rows, first


def _array(kind: pa.DataType, column: np.ndarray) -> pa.Array:
    return pa.array(np.ascontiguousarray(column), kind)


def _indices(rows: np.ndarray) -> np.ndarray:
    return rows.astype(np.int32, copy=False) if len(rows) < 2**31 else rows


def _per_row(per_group: dict[str, pa.Array], rows: np.ndarray | None) -> dict[str, pa.Array]:
    """Per-group columns copied to the rows (``rows``: each row's group; None: one group
    per row), without nulls: Arrow's ``take`` of a column without nulls is ~3x faster than
    numpy's fancy indexing of it (a dictionary column's codes taken, its dictionary kept
    without Arrow's check of every index)."""
    if rows is None:
        return per_group
    indices = pa.array(rows)
    columns: dict[str, pa.Array] = {}
    for name, column in per_group.items():
        if isinstance(column, pa.DictionaryArray):
            columns[name] = dictionary(column.indices.take(indices), column.dictionary)
        else:
            columns[name] = column.take(indices)
    return columns


def dictionary(codes: pa.Array, values: pa.Array) -> pa.DictionaryArray:
    """int32 codes (no nulls, ours and in range) into ``values`` as an Arrow dictionary
    column: Arrow's bounds check of every index is skipped."""
    return pa.DictionaryArray.from_arrays(codes, values, safe=False)


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
