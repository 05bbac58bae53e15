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
import pyarrow.parquet as pq
import pytest

from services.batch.worker.scoring import score_chunk, score_frame
from services.core.decisions.chunk import PAYLOAD_FORMAT, PAYLOAD_FORMATS, ChunkDocument
from services.core.decisions.chunk_codec import (
    _per_group,
    chunk_document,
    decoded_rows,
    encode_payload,
    read_payload,
)
from services.core.decisions.record import COLUMNS, InputsMode
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from services.core.reason_groups import RowGroups
from tests.unit.batch.test_record_block import CREATED, SALT, batch_header, block_of, synthetic

pytestmark = pytest.mark.unit


def document(
    model: Any,
    frame: pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    groups: RowGroups | None = None,
) -> ChunkDocument:
    header = batch_header(model, "job-1", CREATED)
    return chunk_document(header, 3, frame, result, mode, SALT, groups)


def assert_decodes_to_block_rows(
    model: Any, frame: pd.DataFrame, result: pa.Table, groups: RowGroups | None = None
) -> None:
    block = block_of(model, frame, result)
    at = COLUMNS.index("decided_at")
    for mode in InputsMode:
        doc = document(model, frame, result, mode, groups)
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


def scored_with_groups(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], rows: int
) -> tuple[pd.DataFrame, pa.Table, RowGroups]:
    frame = applicants(rows, 12)
    frame["student"] = frame["student"].astype("category")
    frame.loc[frame.index[::13], "income"] = np.nan
    encoded = encode_frame(model.contract.features, frame)
    scored = score_chunk(model, encoded, 1, reasons_k=4)
    assert scored.groups is not None  # the Default model's reasons are ranked per group
    assert len(scored.groups.first) < rows // 2
    return frame, scored.table, scored.groups


def test_a_grouped_document_stores_one_value_per_group_and_decodes_to_the_per_row_rows(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result, groups = scored_with_groups(model, applicants, 20_000)
    assert_decodes_to_block_rows(model, frame, result, groups)
    doc = document(model, frame, result, InputsMode.VALUES, groups)
    assert doc.payload_format == PAYLOAD_FORMAT
    with pa.ipc.open_stream(pa.py_buffer(doc.payload)) as reader:
        stored = reader.read_all()
    assert "row_index" not in stored.column_names  # consecutive rows: rebuilt on reading
    for name in ["probability", *(f"reason_{i}_contribution" for i in range(1, 5))]:
        kind = stored.schema.field(name).type
        assert pa.types.is_dictionary(kind), name
        assert pa.types.is_int16(kind.index_type), name
        assert len(stored.column(name).chunk(0).dictionary) == len(groups.first)
    table = read_payload(doc)
    assert table.column("row_index").to_pylist() == result.column("row").to_pylist()
    for name in ["probability", *(f"reason_{i}_contribution" for i in range(1, 5))]:
        assert table.schema.field(name).type == pa.float64()
        assert table.column(name).equals(result.column(name))  # nulls where no reason


def test_a_column_not_constant_within_the_groups_is_stored_per_row(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    """Groups that do not fit a column (here: the rows' groups shuffled) never change what
    is recorded: that column is stored per row, bit for bit."""
    frame, result, groups = scored_with_groups(model, applicants, 5_000)
    wrong = RowGroups(groups.first, np.random.default_rng(1).permutation(groups.inverse))
    doc = document(model, frame, result, InputsMode.VALUES, wrong)
    with pa.ipc.open_stream(pa.py_buffer(doc.payload)) as reader:
        stored = reader.read_all()
    assert stored.schema.field("probability").type == pa.float64()
    assert_decodes_to_block_rows(model, frame, result, wrong)
    # a value differing from its group's only in its bits (-0.0 and 0.0) is kept as it is
    column = np.zeros(4)
    column[3] = -0.0
    one = RowGroups(np.array([0]), np.zeros(4, dtype=np.int64))
    assert pa.types.is_dictionary(_per_group(pa.array(np.zeros(4)), one).type)
    kept = _per_group(pa.array(column), one)
    assert kept.type == pa.float64()
    assert str(kept[3].as_py()) == "-0.0"


def test_format_1_documents_still_decode(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    """A document recorded before format 2 (every column per row, ``row_index`` stored)
    decodes to the same rows."""
    frame, result, groups = scored_with_groups(model, applicants, 3_000)
    new = document(model, frame, result, InputsMode.VALUES, groups)
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
