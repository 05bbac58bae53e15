"""A chunk recorded as one document (``DECISIONS_BATCH_LAYOUT=chunk``) decodes into exactly
the rows the per-row layout stores (``chunk_block`` → ``DecisionBlock.rows``), byte for byte
in both inputs modes (so the ``hash`` digests are the per-row path's), and its payload is
bit-exact through encode → bytes → decode."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from services.batch.worker.scoring import score_frame
from services.core.decisions.chunk import PAYLOAD_FORMAT, PAYLOAD_FORMATS, ChunkDocument
from services.core.decisions.chunk_codec import (
    _narrow,
    chunk_document,
    decoded_rows,
    encode_payload,
    read_payload,
)
from services.core.decisions.record import COLUMNS, InputsMode
from services.core.model_store import LoadedModel
from services.core.reason_layout import with_null_reasons
from tests.unit.batch.test_record_block import CREATED, SALT, batch_header, block_of, synthetic

pytestmark = pytest.mark.unit


def document(model: Any, frame: pd.DataFrame, result: pa.Table, mode: InputsMode) -> ChunkDocument:
    return chunk_document(batch_header(model, "job-1", CREATED), 3, frame, result, mode, SALT)


def assert_decodes_to_block_rows(model: Any, frame: pd.DataFrame, result: pa.Table) -> None:
    block = block_of(model, frame, result)
    at = COLUMNS.index("decided_at")
    for mode in InputsMode:
        doc = document(model, frame, result, mode)
        assert doc.payload_sha256 == hashlib.sha256(doc.payload).hexdigest()
        assert (doc.first_row, doc.last_row, doc.row_count) == (
            result.column("row")[0].as_py(),
            result.column("row")[-1].as_py(),
            result.num_rows,
        )
        expected = block.rows(mode, SALT)
        got = [tuple(r[c] for c in COLUMNS) for r in decoded_rows(doc)]
        assert len(got) == len(expected)
        for new, old in zip(got, expected, strict=True):
            assert new[at] == doc.decided_at
            new, old = new[:at] + new[at + 1 :], old[:at] + old[at + 1 :]
            assert [type(v) for v in new] == [type(v) for v in old]
            assert new == old  # inputs/reasons text and digests byte for byte
        if mode is InputsMode.HASH:  # no input value in the document, only the digests
            names = read_payload(doc).column_names
            assert not [n for n in names if n.startswith(("input:", "input_json:"))]
        # one row alone decodes to the same row
        middle = doc.first_row + doc.row_count // 2
        whole = [tuple(r[c] for c in COLUMNS) for r in decoded_rows(doc)]
        one = [tuple(r[c] for c in COLUMNS) for r in decoded_rows(doc, middle)]
        assert one == [whole[middle - doc.first_row]]


@pytest.mark.parametrize("k", [0, 1, 4])
def test_synthetic_chunk_document_decodes_to_the_per_row_rows(k: int) -> None:
    assert_decodes_to_block_rows(*synthetic(k))


@pytest.mark.parametrize("k", [0, 4])
def test_scored_chunk_document_decodes_to_the_per_row_rows(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], k: int
) -> None:
    frame = applicants(3_000, 5)
    frame["student"] = frame["student"].astype("category")
    frame.loc[frame.index[::7], "balance"] = np.nan
    frame.loc[frame.index[::11], "student"] = None
    result = score_frame(model, frame, 101, reasons_k=k)
    assert_decodes_to_block_rows(model, frame, result)


def test_the_document_round_trips_bit_exact_and_through_the_spool() -> None:
    model, frame, result = synthetic(4)
    payload = encode_payload(frame, result, InputsMode.VALUES)
    assert encode_payload(frame, result, InputsMode.VALUES) == payload  # deterministic
    doc = document(model, frame, result, InputsMode.VALUES)
    table = read_payload(doc)
    assert table.column("probability").to_pylist() == [
        float(np.float32(p)) for p in result.column("probability").to_pylist()
    ]
    assert table.column("input:balance").to_pylist()[:1] == [1.0]
    again = ChunkDocument.from_json(doc.to_json())
    assert again == doc
    tampered = ChunkDocument.from_json(doc.to_json().replace(doc.payload_sha256, "0" * 64))
    with pytest.raises(ValueError, match="digest"):
        read_payload(tampered)


def test_a_document_built_from_the_chunks_arrow_table_decodes_as_from_its_frame(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], tmp_path: Path
) -> None:
    """The worker encodes straight from the chunk's Arrow columns (two row groups, each with
    its own dictionary for the categorical): the same rows as the per-row layout's."""
    frame = applicants(2_000, 8)
    frame.loc[frame.index[::7], "balance"] = np.nan
    frame.loc[frame.index[::11], "student"] = None
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=700)
    table = pq.read_table(path, read_dictionary=["student"])
    assert pa.types.is_dictionary(table.schema.field("student").type)
    result = score_frame(model, table.to_pandas(), 1, reasons_k=4)
    names = [f.name for f in model.contract.features]
    block = block_of(model, table.select(names).to_pandas(), result)
    at = COLUMNS.index("decided_at")
    for mode in InputsMode:
        doc = chunk_document(
            batch_header(model, "job-1", CREATED), 0, table.select(names), result, mode, SALT
        )
        got = [tuple(r[c] for c in COLUMNS) for r in decoded_rows(doc)]
        expected = block.rows(mode, SALT)
        assert [g[:at] + g[at + 1 :] for g in got] == [e[:at] + e[at + 1 :] for e in expected]


def scored(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], rows: int
) -> tuple[pd.DataFrame, pa.Table]:
    frame = applicants(rows, 12)
    frame["student"] = frame["student"].astype("category")
    frame.loc[frame.index[::13], "income"] = np.nan
    return frame, score_frame(model, frame, 1, reasons_k=4)


def stored_table(doc: ChunkDocument) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(doc.payload)) as reader:
        return reader.read_all()


def test_format_2_leaves_consecutive_rows_out_and_stores_float32_contributions(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result = scored(model, applicants, 5_000)
    doc = document(model, frame, result, InputsMode.VALUES)
    assert doc.payload_format == PAYLOAD_FORMAT
    stored = stored_table(doc)
    assert "row_index" not in stored.column_names  # consecutive rows: rebuilt on reading
    names = [f"reason_{i}_contribution" for i in range(1, 5)]
    assert [stored.schema.field(n).type for n in names] == [pa.float32()] * 4
    assert stored.schema.field("probability").type == pa.float64()  # not float32 values
    table = read_payload(doc)
    assert table.column_names[0] == "row_index"
    assert table.column("row_index").to_pylist() == result.column("row").to_pylist()
    for name in names:  # widened back bit for bit, nulls where no reason
        assert table.schema.field(name).type == pa.float64()
        assert table.column(name).equals(with_null_reasons(result).column(name))
    # rows not consecutive (every other row) keep their numbers
    every_other = np.arange(0, result.num_rows, 2)
    gapped = result.take(pa.array(every_other))
    part = frame.iloc[every_other].reset_index(drop=True)
    doc = document(model, part, gapped, InputsMode.VALUES)
    assert "row_index" in stored_table(doc).column_names
    assert read_payload(doc).column("row_index").equals(gapped.column("row"))
    at = COLUMNS.index("decided_at")
    got = [tuple(r[c] for c in COLUMNS) for r in decoded_rows(doc)]
    expected = block_of(model, part, gapped).rows(InputsMode.VALUES, SALT)
    assert [g[:at] + g[at + 1 :] for g in got] == [e[:at] + e[at + 1 :] for e in expected]


def test_format_3_stores_float64_inputs_of_float32_values_as_float32_marked(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result = scored(model, applicants, 5_000)  # balance, income: float32 values
    frame["balance"] = frame["balance"].astype(np.float32).astype(np.float64)
    frame["income"] = frame["income"].astype(np.float32).astype(np.float64)
    rounded = frame.assign(balance=frame["balance"] + 0.01)  # decimals: not float32 values
    for inputs, narrowed in ((frame, ["income", "balance"]), (rounded, ["income"])):
        doc = document(model, inputs, result, InputsMode.VALUES)
        stored = stored_table(doc)
        for name in ("balance", "income"):
            field = stored.schema.field(f"input:{name}")
            if name in narrowed:
                assert field.type == pa.float32()
                assert field.metadata == {b"narrowed": b"float64"}
            else:
                assert field.type == pa.float64()
                assert not field.metadata
        table = read_payload(doc)
        for name in ("balance", "income"):  # widened back bit for bit, nulls kept
            column = table.column(f"input:{name}")
            assert column.type == pa.float64()
            assert column.equals(pa.chunked_array([pa.Array.from_pandas(inputs[name])]))
        assert_rows_equal(decoded_rows(doc), block_of(model, inputs, result))
    # a format 2 document (inputs as float64, unmarked) still decodes to the same rows
    stored = stored_table(doc)
    for i, field in enumerate(stored.schema):
        if field.metadata:
            stored = stored.set_column(i, field.name, pc.cast(stored.column(i), pa.float64()))
    stored = stored.replace_schema_metadata(
        {**(stored.schema.metadata or {}), b"format": PAYLOAD_FORMATS[1].encode()}
    )
    old = redone(doc, stored, PAYLOAD_FORMATS[1])
    assert decoded_rows(old) == decoded_rows(doc)


def assert_rows_equal(got: list[dict[str, Any]], block: Any) -> None:
    at = COLUMNS.index("decided_at")
    rows = [tuple(r[c] for c in COLUMNS) for r in got]
    expected = block.rows(InputsMode.VALUES, SALT)
    assert [g[:at] + g[at + 1 :] for g in rows] == [e[:at] + e[at + 1 :] for e in expected]


def redone(doc: ChunkDocument, table: pa.Table, payload_format: str) -> ChunkDocument:
    """``doc`` with ``table`` as its payload (uncompressed IPC), labelled ``payload_format``."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as out:
        out.write_table(table)
    payload = bytes(sink.getvalue())
    return ChunkDocument(
        **{
            **doc.__dict__,
            "payload": payload,
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "payload_format": payload_format,
        }
    )


def test_a_contribution_that_is_not_a_float32_value_is_stored_as_float64() -> None:
    exact = pa.array([0.5, None, float(np.float32(0.1)), -0.0])
    narrowed = _narrow(exact)
    assert narrowed.type == pa.float32()
    assert pc.cast(narrowed, pa.float64()).equals(exact)
    assert str(pc.cast(narrowed, pa.float64())[3].as_py()) == "-0.0"
    for values in ([0.1, 0.5], [1e300], [float(np.float32(0.1)) + 1e-12]):
        kept = _narrow(pa.array(values))
        assert kept.type == pa.float64()
        assert kept.to_pylist() == values


def test_narrowing_looks_only_at_valid_values_and_keeps_slices_and_chunks() -> None:
    # a null slot's data (here 0.1, no float32 value) is not a value: still narrowed
    values = np.array([0.5, 0.1, 0.25], dtype=np.float64)
    valid = pa.py_buffer(np.packbits([True, False, True], bitorder="little"))
    masked = pa.Array.from_buffers(pa.float64(), 3, [valid, pa.py_buffer(values)], 1)
    narrowed = _narrow(masked)
    assert narrowed.type == pa.float32()
    assert pc.cast(narrowed, pa.float64()).to_pylist() == [0.5, None, 0.25]
    # a valid value that is not a float32 value keeps the column float64
    long = pa.array([0.5, None, 0.25] * 5 + [0.1])
    assert _narrow(long).type == pa.float64()
    for column in (  # slices (with and without a bitmap) and columns of several chunks
        long.slice(1, 14),
        pa.array([0.5, 0.25, 0.75, 2.0]).slice(1),
        pa.chunked_array([[0.5, None], [0.25]]),
        pa.chunked_array([long.slice(0, 3)]),
    ):
        narrowed = _narrow(column)
        assert narrowed.type == pa.float32()
        assert pc.cast(narrowed, pa.float64()).to_pylist() == column.to_pylist()
    assert _narrow(long.slice(9)).type == pa.float64()


def test_format_1_documents_still_decode(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    """A document recorded before format 2 (every column per row, ``row_index`` stored)
    decodes to the same rows."""
    frame, result = scored(model, applicants, 3_000)
    new = document(model, frame, result, InputsMode.VALUES)
    sink = pa.BufferOutputStream()
    table = read_payload(new)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"format": PAYLOAD_FORMATS[0].encode()}
    )
    with pa.ipc.new_stream(sink, table.schema) as out:
        out.write_table(table)
    payload = bytes(sink.getvalue())
    old = ChunkDocument(
        **{
            **new.__dict__,
            "payload": payload,
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "payload_format": PAYLOAD_FORMATS[0],
        }
    )
    assert decoded_rows(old) == decoded_rows(new)
    unknown = ChunkDocument(**{**old.__dict__, "payload_format": "arrow-ipc-zstd/9"})
    with pytest.raises(ValueError, match="format"):
        read_payload(unknown)
