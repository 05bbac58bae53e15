"""Chunk document format 4: the outcome and reasons stored once per group of the scoring
(``score_grouped`` → ``RowGroups``), each row its group. It reads back as exactly the
table format 3 gives for the same chunk (so the same decoded rows, the per-row layout's),
in both inputs modes; a grouping that does not reproduce the result table gives format 3;
the group index is int16 up to 32,768 groups, int32 past them."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch.domain import ChunkSpec
from services.batch.worker.chunk import read_chunk, run_chunk
from services.batch.worker.recording import ChunkRecord
from services.batch.worker.scoring import score_encoded, score_grouped
from services.core.decisions.chunk import GROUPED_FORMAT, PAYLOAD_FORMAT, ChunkDocument
from services.core.decisions.chunk_codec import (
    GROUP,
    LENGTH,
    RowGroups,
    _grouped_payload,
    chunk_document,
    decoded_rows,
    encode_payload,
    read_payload,
    reproduces,
)
from services.core.decisions.record import COLUMNS, InputsMode
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from services.core.reason_layout import reason_count
from tests.unit.batch import test_chunk_document
from tests.unit.batch.test_chunk_document import assert_decodes_to_block_rows
from tests.unit.batch.test_record_block import CREATED, SALT, batch_header, synthetic
from tests.unit.batch.test_record_publish import Store, writer_with
from tests.unit.batch.test_scoring import same

pytestmark = pytest.mark.unit

K = 4


def scored(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], rows: int, seed: int = 4
) -> tuple[pd.DataFrame, pa.Table, RowGroups]:
    """A scored chunk with missing values and a categorical, and the scoring's groups."""
    frame = applicants(rows, seed)
    frame["student"] = frame["student"].astype("category")
    frame.loc[frame.index[::7], "balance"] = np.nan
    frame.loc[frame.index[::11], "student"] = None
    encoded = encode_frame(model.contract.features, frame)
    result, groups = score_grouped(model, encoded, 101, reasons_k=K)
    assert groups is not None
    return frame, result, groups


def document(
    model: Any,
    frame: pd.DataFrame,
    result: pa.Table,
    mode: InputsMode,
    groups: RowGroups | None,
) -> ChunkDocument:
    head = batch_header(model, "job-1", CREATED)
    return chunk_document(head, 3, frame, result, mode, SALT, groups=groups)


def streams(doc: ChunkDocument) -> tuple[pa.Table, pa.Table]:
    """A format 4 payload's two stored tables, as stored (rows, groups)."""
    payload = pa.py_buffer(doc.payload)
    (size,) = LENGTH.unpack_from(payload)
    tables = []
    for part in (payload.slice(LENGTH.size, size), payload.slice(LENGTH.size + size)):
        with pa.ipc.open_stream(part) as reader:
            tables.append(reader.read_all())
    return tables[0], tables[1]


def test_score_grouped_gives_score_encodeds_table_and_groups_that_reproduce_it(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(3_000, 6)
    encoded = encode_frame(model.contract.features, frame)
    result, groups = score_grouped(model, encoded, 1, reasons_k=K)
    assert same(result, score_encoded(model, encoded, 1, reasons_k=K))
    assert groups is not None
    assert groups.group.dtype == np.int32
    assert len(groups.group) == result.num_rows
    assert 1 < groups.table.num_rows < result.num_rows
    assert reproduces(result, groups)
    # every column, not only the ones the encoder checks, taken back is the result's
    taken = groups.table.take(pa.array(groups.group))
    for name in groups.table.column_names:
        got, expected = taken.column(name), result.column(name)
        if pa.types.is_floating(expected.type):  # NaN where no reason: equal here
            assert np.array_equal(got.to_numpy(), expected.to_numpy(), equal_nan=True), name
        else:
            assert got.equals(expected), name
    # no reasons: no groups
    plain, none = score_grouped(model, encoded, 1)
    assert none is None
    assert plain.equals(score_encoded(model, encoded, 1))


def test_rows_the_reason_groups_cannot_number_have_no_groups(
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded = encode_frame(model.contract.features, applicants(500, 2))
    expected = score_encoded(model, encoded, 1, reasons_k=K)
    monkeypatch.setattr(model.reason_groups, "columns", lambda *args, **kwargs: None)
    result, groups = score_grouped(model, encoded, 1, reasons_k=K)
    assert groups is None
    assert same(result, expected)


@pytest.mark.parametrize("rows", [3_000, 80_000])  # the second: probabilities per bin vector
def test_format_4_reads_as_format_3s_table_in_both_modes(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], rows: int
) -> None:
    frame, result, groups = scored(model, applicants, rows)
    assert model.split_bins.few_groups(rows) == (rows == 80_000)
    for mode in InputsMode:
        grouped = document(model, frame, result, mode, groups)
        plain = document(model, frame, result, mode, None)
        assert grouped.payload_format == GROUPED_FORMAT
        assert plain.payload_format == PAYLOAD_FORMAT
        assert read_payload(grouped).equals(read_payload(plain))
        assert read_payload(grouped).column_names == read_payload(plain).column_names
        assert decoded_rows(grouped) == [
            {**row, "decided_at": grouped.decided_at} for row in decoded_rows(plain)
        ]
        middle = grouped.first_row + rows // 2
        assert decoded_rows(grouped, middle) == [
            {**row, "decided_at": grouped.decided_at} for row in decoded_rows(plain, middle)
        ]
        per_row, per_group = streams(grouped)
        assert per_row.schema.field(GROUP).type == pa.int16()
        assert per_group.num_rows == groups.table.num_rows
        assert per_row.num_rows == rows
        stored_per_group = {"probability", "prediction", "risk_band"} | {
            f"reason_{i}{part}"
            for i in range(1, K + 1)
            for part in ("", "_feature", "_contribution")
        }
        assert set(per_group.column_names) == stored_per_group
        assert not stored_per_group & set(per_row.column_names)
        values = {f"reason_{i}_value" for i in range(1, K + 1)}
        if mode is InputsMode.HASH:  # the reasons' input values are the row's
            assert values | {"inputs_hash"} <= set(per_row.column_names)
            assert not [n for n in per_row.column_names if n.startswith(("input:", "input_"))]
        else:
            assert not values & set(per_row.column_names)


def test_format_4_decodes_to_the_per_row_layouts_rows(
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against the per-row reference (not only format 3): every row, one row alone."""
    frame, result, groups = scored(model, applicants, 2_000, seed=8)

    def grouped(model: Any, frame: pd.DataFrame, result: pa.Table, mode: InputsMode) -> Any:
        doc = document(model, frame, result, mode, groups)
        assert doc.payload_format == GROUPED_FORMAT
        return doc

    monkeypatch.setattr(test_chunk_document, "document", grouped)
    assert_decodes_to_block_rows(model, frame, result)


def test_a_wrong_group_table_is_not_read_as_the_chunks(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    """The decoding really takes the per-group columns by ``group``: a document whose group
    index is shifted (built past the check) reads differently."""
    frame, result, groups = scored(model, applicants, 2_000)
    shifted = RowGroups((groups.group + 1) % groups.table.num_rows, groups.table)
    payload = _grouped_payload(frame, result, InputsMode.VALUES, SALT, shifted)
    good = document(model, frame, result, InputsMode.VALUES, groups)
    bad = redone(good, payload)
    assert not read_payload(bad).equals(read_payload(good))
    assert (
        read_payload(bad).column("probability").to_pylist()
        != result.column("probability").to_pylist()
    )
    past = np.where(groups.group == 0, groups.table.num_rows, groups.group)
    payload = _grouped_payload(
        frame, result, InputsMode.VALUES, SALT, RowGroups(past, groups.table)
    )
    with pytest.raises(IndexError):  # an index past the groups: no row made up
        read_payload(redone(good, payload))


def redone(doc: ChunkDocument, payload: bytes) -> ChunkDocument:
    """``doc`` with another payload (its digest updated)."""
    return dataclasses.replace(
        doc, payload=payload, payload_sha256=hashlib.sha256(payload).hexdigest()
    )


def broken_groupings(result: pa.Table, groups: RowGroups) -> dict[str, RowGroups]:
    """Groupings that do not give ``result`` back."""
    table, group = groups.table, groups.group
    n = table.num_rows
    proba = table.column("probability").to_numpy()
    swapped = group.copy()  # row 0 moved to a group of another probability
    swapped[0] = int(np.flatnonzero(proba != proba[group[0]])[0])
    contributions = table.column("reason_1_contribution").to_numpy().copy()
    contributions[np.flatnonzero(~np.isnan(contributions))[0]] += 1e-9
    reason_2 = table.column("reason_2").combine_chunks()
    renamed = [f"x{i}" for i in range(len(reason_2.dictionary))]
    other_dictionary = pa.DictionaryArray.from_arrays(reason_2.indices, pa.array(renamed))
    missing_column = table.drop_columns(["reason_4_contribution"])
    return {
        "a row in another group": RowGroups(swapped, table),
        "a contribution changed": RowGroups(
            group,
            table.set_column(
                table.schema.get_field_index("reason_1_contribution"),
                "reason_1_contribution",
                pa.array(contributions),
            ),
        ),
        "another dictionary": RowGroups(
            group,
            table.set_column(
                table.schema.get_field_index("reason_2"), "reason_2", other_dictionary
            ),
        ),
        "a column missing": RowGroups(group, missing_column),
        "an index past the groups": RowGroups(np.where(group == 0, n, group), table),
        "a negative index": RowGroups(np.where(group == 0, -1, group), table),
        "one row short": RowGroups(group[:-1], table),
        "no groups": RowGroups(group[:0], table.slice(0, 0)),
        "another type": RowGroups(
            group,
            table.set_column(0, "probability", table.column("probability").cast(pa.float32())),
        ),
    }


def test_a_grouping_that_does_not_reproduce_the_result_gives_format_3(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result, groups = scored(model, applicants, 2_000)
    plain = encode_payload(frame, result, InputsMode.VALUES)
    for label, wrong in broken_groupings(result, groups).items():
        assert not reproduces(result, wrong), label
        doc = document(model, frame, result, InputsMode.VALUES, wrong)
        assert doc.payload_format == PAYLOAD_FORMAT, label
        assert doc.payload == plain, label  # byte for byte the document without groups
    # a result table with nulls in its reasons (the layout before non-nullable columns)
    assert reproduces(result, groups)
    nulls = result.set_column(
        result.schema.get_field_index("reason_1_contribution"),
        "reason_1_contribution",
        pa.array(result.column("reason_1_contribution").to_numpy(), from_pandas=True),
    )
    assert not reproduces(nulls, groups)


def test_no_groups_gives_todays_format_3_document(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result, _ = scored(model, applicants, 1_000)
    for mode in InputsMode:
        payload = encode_payload(frame, result, mode, SALT)
        assert encode_payload(frame, result, mode, SALT, None) == payload
        with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:  # one plain stream
            assert reader.schema.metadata[b"format"] == PAYLOAD_FORMAT.encode()


def tiled(rows: int) -> tuple[Any, pd.DataFrame, pa.Table]:
    """The synthetic chunk (8 rows, odd values) repeated to ``rows`` consecutive rows."""
    model, frame, result = synthetic(K)
    for i in range(1, K + 1):  # the scoring's layout: "" and NaN where there is no reason
        for name in (f"reason_{i}", f"reason_{i}_feature"):
            texts = ["" if v is None else v for v in result.column(name).to_pylist()]
            position = result.schema.get_field_index(name)
            result = result.set_column(position, name, pa.array(texts).dictionary_encode())
        name = f"reason_{i}_contribution"
        weights = [np.nan if v is None else v for v in result.column(name).to_pylist()]
        result = result.set_column(result.schema.get_field_index(name), name, pa.array(weights))
    times = -(-rows // len(frame))
    big = pd.concat([frame] * times, ignore_index=True).iloc[:rows]
    table = pa.concat_tables([result] * times).slice(0, rows)
    numbers = pa.array(np.arange(11, 11 + rows, dtype=np.int64))
    return model, big, table.set_column(0, "row", numbers).combine_chunks()


@pytest.mark.parametrize(
    ("count", "index_type"), [(1 << 15, pa.int16()), ((1 << 15) + 1, pa.int32())]
)
def test_the_group_index_is_int16_up_to_32768_groups(count: int, index_type: pa.DataType) -> None:
    """Every row its own group (``count`` groups): the boundary of the int16 index."""
    model, frame, result = tiled(count)
    names = ["probability", "prediction", "risk_band"] + [
        f"reason_{i}{part}" for i in range(1, K + 1) for part in ("", "_feature", "_contribution")
    ]
    groups = RowGroups(np.arange(count, dtype=np.int32), result.select(names))
    assert reason_count(result) == K
    for mode in InputsMode:
        grouped = document(model, frame, result, mode, groups)
        assert grouped.payload_format == GROUPED_FORMAT
        assert streams(grouped)[0].schema.field(GROUP).type == index_type
        plain = document(model, frame, result, mode, None)
        assert read_payload(grouped).equals(read_payload(plain))
        assert (
            decoded_rows(grouped, 11 + count - 1)[0]["reasons"]
            == decoded_rows(plain, 11 + count - 1)[0]["reasons"]
        )


def test_run_chunk_records_format_4_and_it_decodes_to_the_result_file(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = tmp_path / "in.parquet"
    frame = applicants(3_000, 3)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source)
    (tmp_path / "results").mkdir()
    spec = ChunkSpec(0, str(source), 0, 3_000, None)
    path = tmp_path / "results" / "part-000000.parquet"
    store = Store(lambda doc: None)
    writer, _ = writer_with(store, tmp_path)
    try:
        run_chunk(
            model, spec, path, None, record=ChunkRecord(writer, "j", CREATED, "caller"), reasons_k=K
        )
    finally:
        writer.close(5)
    (doc,) = store.chunks
    assert doc.payload_format == GROUPED_FORMAT
    result, inputs = pq.read_table(path), read_chunk(model, spec, None)  # as the worker did
    names = [f.name for f in model.contract.features]
    head = batch_header(model, "j", CREATED)
    plain = chunk_document(head, 0, inputs.select(names), result, InputsMode.VALUES)
    assert read_payload(doc).equals(read_payload(plain))
    at = COLUMNS.index("decided_at")
    rows = [tuple(r[c] for c in COLUMNS) for r in decoded_rows(doc)]
    expected = [tuple(r[c] for c in COLUMNS) for r in decoded_rows(plain)]
    assert [r[:at] + r[at + 1 :] for r in rows] == [r[:at] + r[at + 1 :] for r in expected]
