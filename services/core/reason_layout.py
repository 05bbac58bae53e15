"""How a batch result table stores "no reason", and the nullable view readers get.

A result row with fewer than i reasons has ``reason_i`` = ``reason_i_feature`` = ``""``
(an entry of the columns' dictionaries) and ``reason_i_contribution`` = NaN: the reason
columns have no nulls, so the result file's Parquet columns are REQUIRED (no definition
levels: a quarter cheaper to write than nullable ones, docs/batch.md). Whoever shows a
reason as a value — a JSON page, a CSV cell, the decision record — sees null there, as
before: ``with_null_reasons`` gives that view (free of copies: the validity bitmaps are
added to the same buffers). Result files written before (nullable columns, nulls) read the
same through it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

NO_REASON_TEXT = ""  # reason_i and reason_i_feature of a row without an i-th reason


def reason_count(table: pa.Table) -> int:
    """How many ``reason_i`` columns the table has (``BATCH_REASONS_TOP_K``; 0: none)."""
    names = set(table.column_names)
    k = 0
    while f"reason_{k + 1}" in names:
        k += 1
    return k


def with_null_reasons(table: pa.Table) -> pa.Table:
    """``table`` with null where a row has no i-th reason (the statement, feature and
    contribution of each missing reason), the layout before non-nullable reason columns.
    Where a contribution is NaN, all three become null (nothing else is; a table that has
    nulls already and no NaN is returned as it is)."""
    for i in range(1, reason_count(table) + 1):
        weight_name = f"reason_{i}_contribution"
        if weight_name not in table.column_names:
            continue
        weights = _one_array(table.column(weight_name))
        valid, data = weights.buffers()
        start, n = weights.offset, len(weights)
        values = np.frombuffer(data, dtype=np.float64, count=start + n)[start:]
        nan = np.isnan(values)
        if not nan.any():
            continue
        keep = ~nan
        if valid is not None:
            keep &= weights.is_valid().to_numpy(zero_copy_only=False)
        bitmap = pa.py_buffer(np.packbits(keep, bitorder="little"))
        nulls = n - int(np.count_nonzero(keep))
        for name in (f"reason_{i}", f"reason_{i}_feature", weight_name):
            if name not in table.column_names:
                continue
            position = table.schema.get_field_index(name)
            column = _masked(_one_array(table.column(position)), bitmap, nulls)
            table = table.set_column(position, pa.field(name, column.type), column)
    return table


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _masked(array: pa.Array, bitmap: pa.Buffer, nulls: int) -> pa.Array:
    """``array`` (offset 0 after ``_sliced``) with ``bitmap`` as its validity."""
    array = _sliced(array)
    if pa.types.is_dictionary(array.type):
        codes = array.indices
        indices = pa.Array.from_buffers(
            codes.type, len(codes), [bitmap, codes.buffers()[1]], null_count=nulls
        )
        return pa.DictionaryArray.from_arrays(indices, array.dictionary, safe=False)
    return pa.Array.from_buffers(
        array.type, len(array), [bitmap, array.buffers()[1]], null_count=nulls
    )


def _sliced(array: pa.Array) -> pa.Array:
    """An array whose data starts at offset 0 (a slice's values copied once)."""
    if array.offset == 0:
        return array
    return pa.concat_arrays([array])  # copies the slice's values from its start
