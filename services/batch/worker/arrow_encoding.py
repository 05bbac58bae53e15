"""Validate and encode a chunk straight from its Arrow columns, without pandas.

A worker reads a Parquet chunk as typed Arrow columns (numbers as integers or floats, text
levels as dictionaries). For those types, checking the contract and encoding the feature
matrix need no pandas frame: a numeric column becomes float64 (nulls as NaN) and is
checked with a few vectorised reductions (missing values, infinities, min and max); a
dictionary column is checked and encoded through its few distinct values. The encoded
matrix is the very one ``encode_frame`` builds from ``table.to_pandas()``, bit for bit.

``encode_checked`` answers only the common case: a chunk whose columns all have such types
and whose values all pass. Any other type, or any value the contract might reject, returns
None, and the caller takes the pandas path (``check_frame`` + ``encode_frame``), which
reports problems with their rows exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from services.core.contract import FeatureSpec


def encode_checked(table: pa.Table, features: Sequence[FeatureSpec]) -> np.ndarray | None:
    """The (rows, features) float32 matrix of a chunk whose every value passes the
    contract, or None (another column type, a possible problem, or no rows)."""
    rows = table.num_rows
    if rows == 0:
        return None
    out = np.empty((rows, len(features)), dtype=np.float32)
    for j, spec in enumerate(features):
        index = table.schema.get_field_index(spec.name)
        if index < 0:
            return None
        column = table.column(index)
        encoded = _categorical(column, spec) if spec.is_categorical else _numeric(column, spec)
        if encoded is None:
            return None
        out[:, j] = encoded
    return out


def _numeric(column: pa.ChunkedArray, spec: FeatureSpec) -> np.ndarray | None:
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)) or pa.types.is_float16(kind):
        return None
    values = _float64(column)
    lowest, highest = np.min(values), np.max(values)
    if np.isnan(lowest):  # missing values (nulls or NaN, as pandas sees both)
        if not spec.nullable:
            return None
        present = values[~np.isnan(values)]
        if not present.size:
            return values
        lowest, highest = np.min(present), np.max(present)
    if np.isinf(lowest) or np.isinf(highest):
        return None
    if spec.min is not None and lowest < spec.min:
        return None
    if spec.max is not None and highest > spec.max:
        return None
    return values


def _float64(column: pa.ChunkedArray) -> np.ndarray:
    """Values as float64 with NaN for nulls: what ``to_pandas`` then ``to_numpy(float64)``
    give (integers convert exactly as numpy converts them)."""
    parts = []
    for chunk in column.chunks:
        values = chunk.to_numpy(zero_copy_only=False)  # nulls: NaN (ints become float64)
        parts.append(np.asarray(values, dtype=np.float64))
    if not parts:
        return np.empty(0, dtype=np.float64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _categorical(column: pa.ChunkedArray, spec: FeatureSpec) -> np.ndarray | None:
    kind = column.type
    if not (
        pa.types.is_dictionary(kind)
        and (pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type))
    ):
        return None
    levels = {level: float(i) for i, level in enumerate(spec.levels or [])}
    parts = []
    for chunk in column.chunks:
        dictionary = chunk.dictionary
        if dictionary.null_count:
            return None
        codes = [levels.get(value) for value in dictionary.to_pylist()]
        if any(code is None for code in codes):
            used = np.unique(chunk.indices.drop_null().to_numpy(zero_copy_only=False))
            if any(codes[i] is None for i in used):
                return None  # an unknown level occurs
            codes = [np.nan if code is None else code for code in codes]
        lookup = np.array([*codes, np.nan], dtype=np.float64)  # the last: missing
        indices = chunk.indices
        if not indices.null_count:
            parts.append(lookup.take(_positions(indices)))
            continue
        if not spec.nullable:
            return None
        missing = indices.is_null().to_numpy(zero_copy_only=False)
        picks = lookup.take(_positions(indices.fill_null(0)))
        parts.append(np.where(missing, lookup[-1], picks))
    if not parts:
        return np.empty(0, dtype=np.float64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _positions(indices: pa.Array) -> np.ndarray:
    """Dictionary indices (no nulls) as numpy's own index type: taking with int8 or int32
    indices costs several times more than converting them first."""
    return np.asarray(indices.to_numpy(), dtype=np.intp)
