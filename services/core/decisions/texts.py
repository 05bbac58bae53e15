"""JSON texts of a batch chunk's decisions, per column (Arrow string kernels): the texts
``record.canonical_inputs`` and ``json.dumps`` of the reasons give, without a Python
object per row. Used to build a ``DecisionBlock`` (the per-row layout) and to decode a chunk
document (the per-chunk layout) into the same rows.

Per-value texts are the ones ``json.dumps`` writes: ``float.__repr__`` for floats (what
``json`` uses), ``int`` text, ``json.dumps`` of each categorical level, feature name and
reason statement (once per distinct value). The canonical inputs text is therefore
byte-identical to ``record.canonical_inputs`` (the ``hash`` mode digest depends on it); a
column of another kind falls back to ``json.dumps`` per value.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.core.decisions.record import _plain
from services.core.reason_layout import reason_count

NULL = "null"


def _texts(values: list[str], n: int) -> pa.Array:
    out = pa.array(values, pa.string())
    assert len(out) == n
    return out


def _float_texts(values: np.ndarray, missing: str) -> pa.Array:
    """``json.dumps`` text of each double; non-finite values as ``missing``."""
    texts = list(map(float.__repr__, values.astype(np.float64).tolist()))
    bad = ~np.isfinite(values)
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            texts[i] = missing if missing else json.dumps(float(values[i]))
    return pa.array(texts, pa.string())


def _valid_float_texts(values: pa.Array) -> pa.Array:
    """``json.dumps`` text of each non-null double, null where null: only the valid values
    are formatted (most rows have fewer than k reasons: their contributions are null)."""
    n = len(values)
    if values.null_count == n:
        return pa.nulls(n, pa.string())
    if values.null_count == 0:
        return _float_texts(values.to_numpy(zero_copy_only=False), "")
    texts = _float_texts(pc.drop_null(values).to_numpy(zero_copy_only=False), "")
    return pc.replace_with_mask(pa.nulls(n, pa.string()), values.is_valid(), texts)


def _json_levels(levels: list[Any]) -> pa.Array:
    return pa.array([json.dumps(_plain(v)) for v in levels], pa.string())


def value_texts(series: pd.Series) -> pa.Array:
    """Each value's JSON text as ``canonical_inputs`` writes it (missing: ``null``)."""
    n = len(series)
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        levels = _json_levels(list(dtype.categories))
        mask = codes < 0
        indices = pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask)
        decoded = pa.DictionaryArray.from_arrays(indices, levels).dictionary_decode()
        return pc.fill_null(decoded, NULL)
    if dtype.kind == "f":
        return _float_texts(series.to_numpy(), NULL)
    if dtype.kind in "iu" and not series.hasnans:
        return pc.cast(pa.array(series.to_numpy()), pa.string())
    plain = series.astype(object).where(series.notna(), None).tolist()
    return _texts([json.dumps(_plain(v)) for v in plain], n)


def inputs_texts(frame: pd.DataFrame, values: dict[str, pa.Array]) -> pa.Array:
    """``canonical_inputs`` of each row: sorted keys, compact separators."""
    keys = sorted(values, key=str)
    if not keys:
        return pa.repeat(pa.scalar("{}"), len(frame))
    parts: list[Any] = []
    for i, key in enumerate(keys):
        parts += [("{" if i == 0 else ",") + json.dumps(str(key)) + ":", values[key]]
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def _dictionary_json(column: pa.ChunkedArray) -> pa.Array:
    """JSON text of each string value (each distinct value encoded once); null stays null."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    if not isinstance(encoded, pa.DictionaryArray):
        raise TypeError("expected a dictionary array")
    dictionary = encoded.dictionary
    if pa.types.is_dictionary(dictionary.type):
        dictionary = dictionary.dictionary_decode()
    levels = pa.array([json.dumps(v) for v in dictionary.to_pylist()], pa.string())
    return pa.DictionaryArray.from_arrays(encoded.indices, levels).dictionary_decode()


def _plain_strings(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return pc.cast(array, pa.string())


def reason_value_texts(values: dict[str, pa.Array], result: pa.Table, i: int) -> pa.Array:
    """The JSON text of the input value of each row's ``i``-th reason (``null`` where there
    is none): picked per row from ``values`` (feature → value texts)."""
    n = result.num_rows
    known = list(values)
    value_set = pa.array(known, pa.string())
    choices = [values[f] for f in known] + [pa.repeat(pa.scalar(NULL), n)]
    features = _plain_strings(result.column(f"reason_{i}_feature"))
    index = pc.fill_null(pc.index_in(features, value_set=value_set), len(known))
    return pc.choose(pc.cast(index, pa.int32()), *choices)


def reasons_texts(
    values: dict[str, pa.Array],
    result: pa.Table,
    reason_values: list[pa.Array] | None = None,
) -> pa.Array:
    """Each row's reasons JSON (``row_reasons`` + ``json.dumps``, compact): only the
    reasons with a feature, each ``feature, value, contribution, statement``. The values
    are picked from ``values``, or given per reason (``reason_values[i - 1]``: a chunk
    document recorded with ``inputs=hash`` keeps only the reasons' values)."""
    n = result.num_rows
    k = reason_count(result)
    if k == 0:
        return pa.repeat(pa.scalar("[]"), n)
    items: list[Any] = []
    for i in range(1, k + 1):
        value = (
            reason_value_texts(values, result, i)
            if reason_values is None
            else pc.fill_null(reason_values[i - 1], NULL)
        )
        weights = result.column(f"reason_{i}_contribution").combine_chunks()
        contribution = pc.fill_null(_valid_float_texts(weights), NULL)
        statement = pc.fill_null(_dictionary_json(result.column(f"reason_{i}")), NULL)
        item = pc.binary_join_element_wise(
            ',{"feature":',
            _dictionary_json(result.column(f"reason_{i}_feature")),
            ',"value":',
            value,
            ',"contribution":',
            contribution,
            ',"statement":',
            statement,
            "}",
            "",
        )
        items.append(pc.fill_null(item, ""))  # no feature: no reason
    joined = pc.binary_join_element_wise(*items, "")
    return pc.binary_join_element_wise("[", pc.utf8_slice_codeunits(joined, 1), "]", "")
