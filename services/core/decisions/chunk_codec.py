"""Encode a batch chunk's decisions as one compressed columnar document, and decode it
back into the rows the per-row layout stores (pyarrow: batch workers and look-ups).

The document is an Arrow IPC stream, zstd-compressed, one column per field:

- ``row_index`` (int64, 1-based input row), ``probability`` (float64), ``prediction``
  (int8), ``risk_band`` (dictionary);
- the inputs: ``input:<feature>`` columns with the values as scored (``inputs=values``;
  a column of Python objects, which has no one Arrow type, as ``input_json:<feature>``, the
  JSON text of each value),
  or ``inputs_hash``, the HMAC-SHA-256 of each row's canonical inputs text under the salt
  (``inputs=hash``: the same digest the per-row layout stores, no input value kept);
- the reasons: ``reason_i`` (statement), ``reason_i_feature``, ``reason_i_contribution``
  for i = 1..k, as in the result file; with ``inputs=hash`` also ``reason_i_value`` (the
  JSON text of the reason's input value, which the per-row layout keeps in its reasons).

Format 2 (``arrow-ipc-zstd/2``) stores less for the same rows: ``row_index`` is left out
when the rows are consecutive (``first_row`` .. ``last_row`` rebuild it), and a
``reason_i_contribution`` column whose values are all float32 values (the worker's
contributions table is float32) is stored as float32 (checked bit for bit; otherwise
float64). Format 3 (``arrow-ipc-zstd/3``) narrows a float64 input column
(``input:<feature>``) the same way when every value is a float32 value, the field marked
``narrowed: float64`` (an input column of another type is stored as it is, unmarked).
``read_payload`` gives format 1's table for every format.

Decoding rebuilds each row's ``inputs`` and ``reasons`` JSON texts with the same kernels as
the per-row layout (``texts``), so a decoded row equals, column for column and byte for
byte, the row ``chunk_block`` + ``DecisionBlock.table`` would have stored. Columns that
repeat the chunk (job, model, caller, threshold, decided_at) live in the chunk table's row.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.core.decisions.chunk import PAYLOAD_FORMAT, PAYLOAD_FORMATS, ChunkDocument
from services.core.decisions.digests import hmac_sha256_hex
from services.core.decisions.record import COLUMNS, BatchHeader, InputsMode, now
from services.core.decisions.texts import (
    _plain_strings,
    inputs_texts,
    reason_value_texts,
    reasons_texts,
    value_texts,
)
from services.core.reason_layout import reason_count, with_null_reasons

INPUT = "input:"  # a feature's values, in their own Arrow type
INPUT_JSON = "input_json:"  # an object column's values as JSON texts
NARROWED = re.compile(r"reason_\d+_contribution")  # stored as float32 when lossless
WIDEN = {b"narrowed": b"float64"}  # field metadata: a float64 column stored as float32
CHECK_FIRST = 4_096  # values checked before the whole column: most columns that are not
# float32 values (measured inputs: decimals) show it in their first values
# zstd level 1, not LZ4: LZ4 (measured, rec17j) halves the compression CPU (41 -> 20 ms a
# 200k-row chunk) but stores 39 % more bytes (2.9 -> 4.1 MB) and the larger insert gives
# most of it back (about 5 ms net a chunk): a record kept for years is worth the bytes
OPTIONS = pa.ipc.IpcWriteOptions(compression=pa.Codec("zstd", compression_level=1))


def _one_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The column as one array (a one-chunk column's chunk as it is: no copy)."""
    if isinstance(column, pa.Array):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _small_dictionary(column: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """A dictionary column with int8 indices when its dictionary is that small (features,
    statements, bands): a quarter of the bytes to compress; other columns as they are."""
    if not pa.types.is_dictionary(column.type):
        return column
    array = _one_array(column)
    if len(array.dictionary) > 127:
        return array
    codes = array.indices
    if codes.offset or not pa.types.is_int32(codes.type):
        return pa.DictionaryArray.from_arrays(pc.cast(codes, pa.int8()), array.dictionary)
    # the int32 codes narrowed in numpy, the validity bitmap shared: no kernel, no copy of
    # it; the codes are a valid dictionary array's, so Arrow's check of every index (most
    # of this function's time) is skipped
    valid, data = codes.buffers()
    narrow = np.frombuffer(data, dtype=np.int32, count=len(codes)).astype(np.int8)
    indices = pa.Array.from_buffers(
        pa.int8(), len(codes), [valid, pa.py_buffer(narrow)], null_count=codes.null_count
    )
    return pa.DictionaryArray.from_arrays(indices, array.dictionary, safe=False)


def _input_columns(inputs: pa.Table | pd.DataFrame) -> dict[str, pa.Array | pa.ChunkedArray]:
    """``inputs=values``: each feature's column as scored. Straight from the chunk's Arrow
    table (numbers and dictionary-encoded levels as they are, dictionaries unified; no
    pandas frame), else from a frame; a column of Python objects (pandas ``object``, Arrow
    plain strings) has no one Arrow type here: its JSON texts."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    if isinstance(inputs, pd.DataFrame):
        for name in inputs.columns:
            if inputs[name].dtype == object:
                columns[INPUT_JSON + str(name)] = value_texts(inputs[name])
            else:
                columns[INPUT + str(name)] = pa.Array.from_pandas(inputs[name])
        return columns
    table = inputs.unify_dictionaries()
    for field in table.schema:
        column = table.column(field.name)
        kind = field.type
        if pa.types.is_dictionary(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
            columns[INPUT + field.name] = column.combine_chunks()
        else:  # strings, booleans, ...: the texts the pandas path gives
            columns[INPUT_JSON + field.name] = value_texts(column.to_pandas())
    return columns


def _consecutive(rows: pa.ChunkedArray | pa.Array) -> bool:
    """Whether the row numbers count up by one from the first (the worker's chunks)."""
    values = rows.to_numpy(zero_copy_only=False)
    if rows.null_count or not len(values):
        return False
    return bool(np.array_equal(values, np.arange(values[0], values[0] + len(values))))


def _narrow(column: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """A float64 column as float32 when every value is a float32 value (bit for bit, so
    widening gives it back exactly: ``NARROWED`` columns and ``WIDEN`` fields are widened
    on reading); else as it is. In numpy on the data buffer (what is under a null is not
    compared: the validity bitmap is shared); the first ``CHECK_FIRST`` values first."""
    if not pa.types.is_float64(column.type):
        return column
    array = _one_array(column)
    n, start = len(array), array.offset
    valid, data = array.buffers()
    values = np.frombuffer(data, dtype=np.float64, count=start + n)[start:]
    if n > CHECK_FIRST and _float32_values(values[:CHECK_FIRST], valid, start) is None:
        return column
    narrow = _float32_values(values, valid, start)
    if narrow is None:
        return column
    if start and valid is not None:  # the bitmap from the array's first row
        return pc.cast(array, pa.float32(), safe=False)
    buffers = [valid, pa.py_buffer(narrow)]
    return pa.Array.from_buffers(pa.float32(), n, buffers, null_count=array.null_count)


def _float32_values(values: np.ndarray, valid: pa.Buffer | None, start: int) -> np.ndarray | None:
    """``values`` as float32 if each valid one is a float32 value, bit for bit; else None
    (``valid``: the validity bitmap of the array whose values start at bit ``start``)."""
    with np.errstate(over="ignore"):  # a value beyond float32 is inf: not equal, kept
        narrow = values.astype(np.float32)
    differ = np.flatnonzero(values.view(np.uint64) != narrow.astype(np.float64).view(np.uint64))
    if len(differ) and (valid is None or _valid_at(valid, start + differ).any()):
        return None
    return narrow


def _valid_at(bitmap: pa.Buffer, positions: np.ndarray) -> np.ndarray:
    """Whether the validity bitmap marks each of ``positions`` valid."""
    bits = np.frombuffer(bitmap, dtype=np.uint8)
    return ((bits[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1).astype(bool)


def encode_payload(
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    salt: str = "",
) -> bytes:
    """The chunk's decisions (``inputs``: the scored features, as the chunk's Arrow table or
    a frame; ``result``: the result table) as the compressed document described in the
    module doc. Reasons are stored with nulls where a row has none, as the result table
    had them before its reason columns became non-nullable (``reason_layout``)."""
    result = with_null_reasons(result)
    k = reason_count(result)
    rows = result.column("row")
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    if not _consecutive(rows):
        columns["row_index"] = rows
    columns.update(
        {
            "probability": pc.cast(result.column("probability"), pa.float64()),
            "prediction": pc.cast(result.column("prediction"), pa.int8()),
            "risk_band": result.column("risk_band"),
        }
    )
    widened: set[str] = set()
    if mode is InputsMode.VALUES:
        for name, column in _input_columns(inputs).items():
            columns[name] = _narrow(column)
            if columns[name].type != column.type:
                widened.add(name)
    else:
        frame = inputs if isinstance(inputs, pd.DataFrame) else inputs.to_pandas()
        values = {str(c): value_texts(frame[c]) for c in frame.columns}
        columns["inputs_hash"] = hmac_sha256_hex(inputs_texts(frame, values), salt)
        for i in range(1, k + 1):
            feature = pc.is_valid(result.column(f"reason_{i}_feature"))
            texts = reason_value_texts(values, result, i)
            columns[f"reason_{i}_value"] = pc.if_else(feature, texts, None)
    for i in range(1, k + 1):
        columns[f"reason_{i}"] = _small_dictionary(result.column(f"reason_{i}"))
        columns[f"reason_{i}_feature"] = _small_dictionary(result.column(f"reason_{i}_feature"))
        columns[f"reason_{i}_contribution"] = _narrow(result.column(f"reason_{i}_contribution"))
    columns["risk_band"] = _small_dictionary(columns["risk_band"])
    fields = [
        pa.field(name, column.type, metadata=WIDEN if name in widened else None)
        for name, column in columns.items()
    ]
    meta = {"format": PAYLOAD_FORMAT, "inputs": mode.value, "reasons": str(k)}
    table = pa.table(columns, schema=pa.schema(fields, meta))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=OPTIONS) as out:
        out.write_table(table)
    return bytes(sink.getvalue())


def chunk_document(
    header: BatchHeader,
    chunk_index: int,
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    salt: str = "",
) -> ChunkDocument:
    """A scored chunk as the chunk table's row (the payload encoded here)."""
    payload = encode_payload(inputs, result, mode, salt)
    rows = result.column("row")
    return ChunkDocument(
        job_id=header.job_id,
        chunk_index=chunk_index,
        first_row=int(rows[0].as_py()),
        last_row=int(rows[len(rows) - 1].as_py()),
        row_count=result.num_rows,
        day=header.day,
        decided_at=now(),
        model=header.model,
        caller=header.caller,
        threshold=float(header.threshold),
        inputs_mode=mode.value,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        payload=payload,
    )


def read_payload(doc: ChunkDocument) -> pa.Table:
    """The document's table, after checking its digest and format, in format 1's columns
    (``row_index`` first; float32 contributions and ``WIDEN`` fields widened)."""
    if doc.payload_format not in PAYLOAD_FORMATS:
        raise ValueError(f"unknown chunk payload format {doc.payload_format!r}")
    if hashlib.sha256(doc.payload).hexdigest() != doc.payload_sha256:
        raise ValueError(f"chunk {doc.job_id}:{doc.first_row}: payload digest mismatch")
    with pa.ipc.open_stream(pa.py_buffer(doc.payload)) as reader:
        table = reader.read_all()
    for i, field in enumerate(table.schema):
        marked = field.metadata is not None and field.metadata.items() >= WIDEN.items()
        if (NARROWED.fullmatch(field.name) or marked) and pa.types.is_float32(field.type):
            wide = pc.cast(table.column(i), pa.float64())
            table = table.set_column(i, pa.field(field.name, pa.float64()), wide)
    if "row_index" not in table.column_names:
        n = table.num_rows
        if n != doc.row_count or doc.last_row - doc.first_row + 1 != n:
            raise ValueError(
                f"chunk {doc.job_id}:{doc.first_row}: {n} rows, expected {doc.row_count}"
            )
        rows = pa.array(np.arange(doc.first_row, doc.first_row + n, dtype=np.int64))
        table = table.add_column(0, "row_index", rows)
    return table


def decoded_table(doc: ChunkDocument, row_index: int | None = None) -> pa.Table:
    """The chunk's decisions as the per-row layout's columns (``COLUMNS``; ``inputs`` and
    ``reasons`` as JSON text), all rows or only input row ``row_index``."""
    table = read_payload(doc)
    if row_index is not None:
        table = table.slice(row_index - doc.first_row, 1)
        if table.num_rows and table.column("row_index")[0].as_py() != row_index:
            raise ValueError(f"chunk {doc.job_id}:{doc.first_row} has no row {row_index}")
    n = table.num_rows
    mode = InputsMode(doc.inputs_mode)
    if mode is InputsMode.VALUES:
        values: dict[str, pa.Array] = {}
        for name in table.column_names:
            if name.startswith(INPUT):
                series = table.column(name).to_pandas()
                values[name[len(INPUT) :]] = value_texts(series)
            elif name.startswith(INPUT_JSON):
                values[name[len(INPUT_JSON) :]] = table.column(name).combine_chunks()
        inputs: pa.Array = inputs_texts(pd.DataFrame(index=range(n)), values)
        digest: pa.Array = pa.nulls(n, pa.string())
        reasons = reasons_texts(values, table)
    else:
        k = reason_count(table)
        inputs = pa.nulls(n, pa.string())
        digest = table.column("inputs_hash").combine_chunks()
        given = [table.column(f"reason_{i}_value").combine_chunks() for i in range(1, k + 1)]
        reasons = reasons_texts({}, table, given)
    rows = table.column("row_index").combine_chunks()

    def const(value: Any, kind: pa.DataType) -> pa.Array:
        return pa.nulls(n, kind) if value is None else pa.repeat(pa.scalar(value, kind), n)

    columns = {
        "day": const(doc.day, pa.date32()),
        "decision_id": pc.binary_join_element_wise(
            f"job:{doc.job_id}:", pc.cast(rows, pa.string()), ""
        ),
        "decided_at": const(doc.decided_at, pa.timestamp("us", tz="UTC")),
        "request_id": const(None, pa.string()),
        "item": const(None, pa.int32()),
        "job_id": const(doc.job_id, pa.string()),
        "row_index": rows,
        "caller": const(doc.caller, pa.string()),
        "model_name": const(doc.model.name, pa.string()),
        "model_version": const(doc.model.version, pa.string()),
        "track": const(doc.model.track, pa.string()),
        "inputs": inputs,
        "inputs_hash": digest,
        "probability": table.column("probability").combine_chunks(),
        "prediction": table.column("prediction").combine_chunks(),
        "risk_band": _plain_strings(table.column("risk_band")),
        "threshold": const(float(doc.threshold), pa.float64()),
        "reasons": reasons,
        "baseline": const(None, pa.string()),
    }
    return pa.Table.from_pydict(columns).select(list(COLUMNS))


def decoded_rows(doc: ChunkDocument, row_index: int | None = None) -> list[dict[str, Any]]:
    """``decoded_table`` as stored rows (column → value), the shape look-ups and the export
    read from the per-row table (``inputs`` and ``reasons`` as JSON text)."""
    out = decoded_table(doc, row_index).to_pylist()
    for row in out:  # the same Python types psycopg gives for the per-row table
        row["decided_at"] = doc.decided_at
        row["day"] = doc.day
    return out
