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

Format 4 (``arrow-ipc-zstd/4``) stores what is the same for every row of one of the
scoring's groups once per group: the batch scoring groups a chunk's rows by their bin
vector (``split_bins``: same trees' leaves, so the same probability) refined by the sides
of the reasons' pivots (``reason_groups``: the same reasons), ~1-3k groups in 200,000
rows, and hands the grouping over (``RowGroups``: no hashing here). The payload is two
IPC streams, each zstd-compressed as above, behind the first's length (``LENGTH``: 8
bytes, little-endian):

- the rows' stream: ``row_index`` (as format 3: left out when consecutive), the inputs
  exactly as format 3 stores them (with ``inputs=hash``: ``inputs_hash`` and the reasons'
  input values ``reason_i_value``, which are the row's, not the group's), and ``group``
  (int16 up to ``INT16_GROUPS`` groups, else int32: the row's group);
- the groups' stream: ``probability``, ``prediction``, ``risk_band`` and the reason
  columns, one row per group, as format 3 stores them per row (nulls where a group has no
  i-th reason, small dictionaries, contributions narrowed when lossless).

Two streams rather than one table: an IPC stream has one schema, so a table of another
length can only ride in it padded (as many slots as rows, nulls past the groups: buffers
the writer still fills and compresses) or as a dictionary of structs (a dictionary-encoded
column whose values nest dictionaries: harder to read back and to read by other tools);
two plain streams keep each table in format 3's own types, so reading is format 3's per
stream and then one ``take`` per per-group column by ``group``. A document is built in
format 4 only when the given groups reproduce the result table (``reproduces``: cheap,
bit for bit on every row); otherwise, or without groups, in format 3.

``read_payload`` gives format 1's table for every format (for format 4, the same table as
format 3 gives for the same chunk).

Decoding rebuilds each row's ``inputs`` and ``reasons`` JSON texts with the same kernels as
the per-row layout (``texts``), so a decoded row equals, column for column and byte for
byte, the row ``chunk_block`` + ``DecisionBlock.table`` would have stored. Columns that
repeat the chunk (job, model, caller, threshold, decided_at) live in the chunk table's row.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.core.decisions.chunk import (
    GROUPED_FORMAT,
    PAYLOAD_FORMAT,
    PAYLOAD_FORMATS,
    ChunkDocument,
)
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
GROUP = "group"  # format 4: each row's group (its row in the groups' stream)
OUTCOME = ("probability", "prediction", "risk_band")  # format 4: stored per group
INT16_GROUPS = 1 << 15  # up to this many groups, ``group`` is int16 (else int32)
LENGTH = struct.Struct("<Q")  # format 4: the rows' stream's length, before it
CHECKED = ("probability", "reason_1", "reason_1_contribution")  # see ``reproduces``
REASON_PARTS = ("", "_feature", "_contribution")  # reason_i, reason_i_feature, ...


@dataclass(frozen=True)
class RowGroups:
    """The scoring's groups of a chunk's rows (``score_grouped``): rows of a group have the
    same outcome and reasons. ``group``: each row's group (int32, a row of ``table``);
    ``table``: one row per group, the result table's ``OUTCOME`` and reason columns in
    its types."""

    group: np.ndarray
    table: pa.Table


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


def reproduces(result: pa.Table, groups: RowGroups) -> bool:
    """Whether ``groups`` give back ``result``'s outcome and reasons, checked cheaply before
    a format 4 document is built from them (never stored wrong: else format 3). The group
    table has exactly the result's ``OUTCOME`` and reason columns, in the same types and
    dictionaries; every row's group is one of its rows; and the ``CHECKED`` columns taken
    by ``group`` equal the result's, bit for bit, on every row (the probability, whose
    groups are the coarsest: the split-bin keys, and the first reason's statement and
    contribution, which the reason groups refine them for). ``prediction`` and
    ``risk_band`` are the probability's, by the same functions."""
    table, group = groups.table, groups.group
    k = reason_count(result)
    names = [*OUTCOME, *(f"reason_{i}{s}" for i in range(1, k + 1) for s in REASON_PARTS)]
    if (
        sorted(table.column_names) != sorted(names)
        or group.ndim != 1
        or group.dtype.kind not in "iu"
        or len(group) != result.num_rows
        or not table.num_rows
        or not len(group)
        or int(group.min()) < 0
        or int(group.max()) >= table.num_rows
    ):
        return False
    try:
        for name in names:
            rows, per_group = _one_array(result.column(name)), _one_array(table.column(name))
            if rows.type != per_group.type:
                return False
            if pa.types.is_dictionary(rows.type) and not rows.dictionary.equals(
                per_group.dictionary
            ):
                return False
            if name in CHECKED and not _same_by_group(rows, per_group, group):
                return False
    except (pa.ArrowException, ValueError, TypeError):  # columns of other shapes: format 3
        return False
    return True


def _same_by_group(rows: pa.Array, per_group: pa.Array, group: np.ndarray) -> bool:
    """Whether ``per_group`` taken by ``group`` is ``rows``, bit for bit (NaN included);
    a column with nulls is not compared (False)."""
    if pa.types.is_dictionary(rows.type):
        rows, per_group = rows.indices, per_group.indices
    if rows.null_count or per_group.null_count:
        return False
    values = rows.to_numpy(zero_copy_only=True)
    each = per_group.to_numpy(zero_copy_only=True)
    bits = np.dtype(f"u{values.dtype.itemsize}")
    return bool(np.array_equal(values.view(bits), each.view(bits)[group]))


def encode_payload(
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    salt: str = "",
    groups: RowGroups | None = None,
) -> bytes:
    """The chunk's decisions (``inputs``: the scored features, as the chunk's Arrow table or
    a frame; ``result``: the result table) as the compressed document described in the
    module doc: format 4 when ``groups`` (the scoring's) reproduce ``result``, else format
    3 (``encode_document`` says which). Reasons are stored with nulls where a row has none,
    as the result table had them before its reason columns became non-nullable
    (``reason_layout``)."""
    return encode_document(inputs, result, mode, salt, groups)[1]


def encode_document(
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    salt: str = "",
    groups: RowGroups | None = None,
) -> tuple[str, bytes]:
    """``encode_payload`` and the payload's format (the chunk row's ``payload_format``)."""
    if groups is not None and reproduces(result, groups):
        return GROUPED_FORMAT, _grouped_payload(inputs, result, mode, salt, groups)
    return PAYLOAD_FORMAT, _payload(inputs, result, mode, salt)


def _payload(
    inputs: pa.Table | pd.DataFrame, result: pa.Table, mode: InputsMode, salt: str
) -> bytes:
    """Format 3: every column per row."""
    result = with_null_reasons(result)
    k = reason_count(result)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    _row_numbers(result, columns)
    columns.update(_outcome(result))
    widened = _row_inputs(inputs, result, mode, salt, columns)
    columns.update(_reasons(result, k))
    meta = {"format": PAYLOAD_FORMAT, "inputs": mode.value, "reasons": str(k)}
    return _stream(columns, widened, meta)


def _grouped_payload(
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    salt: str,
    groups: RowGroups,
) -> bytes:
    """Format 4: the rows' stream (row numbers, inputs, ``group``), then the groups' stream
    (outcome and reasons, one row per group), behind the rows' stream's length."""
    table = with_null_reasons(groups.table)
    k = reason_count(table)
    count = table.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    _row_numbers(result, columns)
    if mode is InputsMode.HASH:  # the reasons' values are the row's: per row
        result = with_null_reasons(result)
    widened = _row_inputs(inputs, result, mode, salt, columns)
    kind = np.int16 if count <= INT16_GROUPS else np.int32
    columns[GROUP] = pa.array(groups.group.astype(kind, copy=False))
    meta = {"format": GROUPED_FORMAT, "inputs": mode.value, "reasons": str(k)}
    rows = _stream(columns, widened, {**meta, "groups": str(count)})
    per_group = {**_outcome(table), **_reasons(table, k)}
    return LENGTH.pack(len(rows)) + rows + _stream(per_group, set(), meta)


def _row_numbers(result: pa.Table, columns: dict[str, pa.Array | pa.ChunkedArray]) -> None:
    """``row_index``, unless the rows are consecutive (rebuilt from the chunk's row)."""
    rows = result.column("row")
    if not _consecutive(rows):
        columns["row_index"] = rows


def _outcome(table: pa.Table) -> dict[str, pa.Array | pa.ChunkedArray]:
    """Probability, prediction and band as both formats store them (band's dictionary small)."""
    return {
        "probability": pc.cast(table.column("probability"), pa.float64()),
        "prediction": pc.cast(table.column("prediction"), pa.int8()),
        "risk_band": _small_dictionary(table.column("risk_band")),
    }


def _row_inputs(
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    salt: str,
    columns: dict[str, pa.Array | pa.ChunkedArray],
) -> set[str]:
    """Add the inputs' columns (``values``: each feature's, narrowed when lossless;
    ``hash``: the digest and each reason's input value, from ``result``'s null view) to
    ``columns``; the names of the narrowed ones."""
    widened: set[str] = set()
    if mode is InputsMode.VALUES:
        for name, column in _input_columns(inputs).items():
            columns[name] = _narrow(column)
            if columns[name].type != column.type:
                widened.add(name)
        return widened
    frame = inputs if isinstance(inputs, pd.DataFrame) else inputs.to_pandas()
    values = {str(c): value_texts(frame[c]) for c in frame.columns}
    columns["inputs_hash"] = hmac_sha256_hex(inputs_texts(frame, values), salt)
    for i in range(1, reason_count(result) + 1):
        feature = pc.is_valid(result.column(f"reason_{i}_feature"))
        texts = reason_value_texts(values, result, i)
        columns[f"reason_{i}_value"] = pc.if_else(feature, texts, None)
    return widened


def _reasons(table: pa.Table, k: int) -> dict[str, pa.Array | pa.ChunkedArray]:
    """The reason columns of a null view, dictionaries small and contributions narrowed."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for i in range(1, k + 1):
        columns[f"reason_{i}"] = _small_dictionary(table.column(f"reason_{i}"))
        columns[f"reason_{i}_feature"] = _small_dictionary(table.column(f"reason_{i}_feature"))
        columns[f"reason_{i}_contribution"] = _narrow(table.column(f"reason_{i}_contribution"))
    return columns


def _stream(
    columns: dict[str, pa.Array | pa.ChunkedArray], widened: set[str], meta: dict[str, str]
) -> bytes:
    """``columns`` as one compressed IPC stream (``widened``: fields marked ``WIDEN``)."""
    fields = [
        pa.field(name, column.type, metadata=WIDEN if name in widened else None)
        for name, column in columns.items()
    ]
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
    groups: RowGroups | None = None,
) -> ChunkDocument:
    """A scored chunk as the chunk table's row (the payload encoded here; format 4 when the
    scoring's ``groups`` are given and reproduce ``result``)."""
    payload_format, payload = encode_document(inputs, result, mode, salt, groups)
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
        payload_format=payload_format,
    )


def read_payload(doc: ChunkDocument) -> pa.Table:
    """The document's table, after checking its digest and format, in format 1's columns
    (``row_index`` first; float32 contributions and ``WIDEN`` fields widened; format 4's
    per-group columns taken back to the rows)."""
    if doc.payload_format not in PAYLOAD_FORMATS:
        raise ValueError(f"unknown chunk payload format {doc.payload_format!r}")
    if hashlib.sha256(doc.payload).hexdigest() != doc.payload_sha256:
        raise ValueError(f"chunk {doc.job_id}:{doc.first_row}: payload digest mismatch")
    payload = pa.py_buffer(doc.payload)
    if doc.payload_format == GROUPED_FORMAT:
        table = _ungrouped(payload)
    else:
        table = _widened(_read_stream(payload))
    if "row_index" not in table.column_names:
        n = table.num_rows
        if n != doc.row_count or doc.last_row - doc.first_row + 1 != n:
            raise ValueError(
                f"chunk {doc.job_id}:{doc.first_row}: {n} rows, expected {doc.row_count}"
            )
        rows = pa.array(np.arange(doc.first_row, doc.first_row + n, dtype=np.int64))
        table = table.add_column(0, "row_index", rows)
    return table


def _read_stream(payload: pa.Buffer) -> pa.Table:
    with pa.ipc.open_stream(payload) as reader:
        return reader.read_all()


def _widened(table: pa.Table) -> pa.Table:
    """Narrowed columns (``NARROWED`` names, ``WIDEN`` fields) back to float64."""
    for i, field in enumerate(table.schema):
        marked = field.metadata is not None and field.metadata.items() >= WIDEN.items()
        if (NARROWED.fullmatch(field.name) or marked) and pa.types.is_float32(field.type):
            wide = pc.cast(table.column(i), pa.float64())
            table = table.set_column(i, pa.field(field.name, pa.float64()), wide)
    return table


def _ungrouped(payload: pa.Buffer) -> pa.Table:
    """A format 4 payload as format 3's table: each per-group column widened once per group,
    then taken by the rows' ``group``, in format 3's column order (``row_index``, outcome,
    the rows' columns, the reasons)."""
    (size,) = LENGTH.unpack_from(payload)
    rows = _widened(_read_stream(payload.slice(LENGTH.size, size)))
    per_group = _widened(_read_stream(payload.slice(LENGTH.size + size)))
    index = rows.column(GROUP)  # taken bounds-checked: a bad index raises IndexError
    names = [n for n in ("row_index",) if n in rows.column_names]
    names += list(OUTCOME)
    names += [n for n in rows.column_names if n not in ("row_index", GROUP)]
    names += [n for n in per_group.column_names if n not in OUTCOME]
    columns = [
        per_group.column(n).take(index) if n in per_group.column_names else rows.column(n)
        for n in names
    ]
    schema = pa.schema(
        [
            per_group.schema.field(n) if n in per_group.column_names else rows.schema.field(n)
            for n in names
        ],
        rows.schema.metadata,
    )
    return pa.Table.from_arrays(columns, schema=schema)


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
