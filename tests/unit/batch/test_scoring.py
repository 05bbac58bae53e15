"""``services.batch.worker.scoring``'s result table, column by column: the row numbers
from the first row given, the id column only when named and given, the probability as
float64, the prediction at the contract threshold (a probability equal to it is a 1),
the band and the model version as dictionary columns with every band named, the reason
columns appended non-nullable with int32 codes into dictionaries ending in ``""``; and
``score_table`` / ``score_frame`` / ``score_encoded`` giving one and the same table."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from services.batch.worker.scoring import (
    _array,
    _per_row,
    dictionary,
    reason_columns,
    result_table,
    score_encoded,
    score_frame,
    score_table,
)
from services.core import split_bins
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit
Applicants = Callable[[int, int], pd.DataFrame]


def same(
    a: pa.Table | pa.Array | pa.ChunkedArray, b: pa.Table | pa.Array | pa.ChunkedArray
) -> bool:
    """Equal tables or columns, NaN equal to NaN (a row without an i-th reason)."""
    if isinstance(a, pa.Table):
        assert isinstance(b, pa.Table)
        return a.schema.equals(b.schema) and all(
            same(x, y) for x, y in zip(a.columns, b.columns, strict=True)
        )
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    if isinstance(b, pa.ChunkedArray):
        b = b.combine_chunks()
    if a.type != b.type or a.null_count or b.null_count:
        return False
    if pa.types.is_floating(a.type):
        return bool(np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True))
    return bool(a.equals(b))


def test_result_columns_types_and_values_from_probabilities(model: LoadedModel) -> None:
    threshold = model.contract.threshold
    proba = np.array([0.0, threshold, np.nextafter(threshold, 0.0), 1.0])
    table = result_table(model, proba, 7)
    assert table.column_names == ["row", "probability", "prediction", "risk_band", "model_version"]
    assert table.schema.field("row").type == pa.int64()
    assert table.column("row").to_pylist() == [7, 8, 9, 10]
    assert table.schema.field("probability").type == pa.float64()
    assert table.column("probability").to_pylist() == proba.tolist()
    assert table.schema.field("prediction").type == pa.int8()
    assert table.column("prediction").to_pylist() == [0, 1, 0, 1]
    names = [band.name for band in model.contract.risk_bands]
    bands = table.column("risk_band").combine_chunks()
    assert bands.dictionary.to_pylist() == names  # every band, in the contract's order
    assert bands.to_pylist() == [names[c] for c in model.band_codes(proba)]
    version = table.column("model_version").combine_chunks()
    assert version.type == pa.dictionary(pa.int8(), pa.string())
    assert version.dictionary.to_pylist() == [model.version]
    assert version.indices.to_pylist() == [0, 0, 0, 0]
    for column in table.columns:
        assert column.null_count == 0
        column.validate(full=True)
    # float64 whatever the probabilities' dtype (domain.RESULT_COLUMNS)
    single = result_table(model, proba.astype(np.float32), 1).column("probability")
    assert single.type == pa.float64()


def test_the_id_column_only_when_named_and_given(model: LoadedModel) -> None:
    proba = np.array([0.2, 0.9])
    ids = pa.chunked_array([pa.array(["a", "b"])])
    named = result_table(model, proba, 1, "applicant", ids)
    assert named.column_names[:2] == ["row", "applicant"]
    assert named.column("applicant").to_pylist() == ["a", "b"]
    assert "applicant" not in result_table(model, proba, 1, "applicant", None).column_names
    assert (
        result_table(model, proba, 1, None, ids).column_names
        == result_table(model, proba, 1).column_names
    )


def test_score_table_frame_and_encoded_give_one_table(
    model: LoadedModel, applicants: Applicants
) -> None:
    frame = applicants(120, 21)
    frame["applicant"] = [f"a{i}" for i in range(len(frame))]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    ids = table.column("applicant")
    encoded = encode_frame(model.contract.features, frame)
    by_table = score_table(model, table, 11, "applicant")
    by_frame = score_frame(model, frame, 11, "applicant", ids)
    by_encoded = score_encoded(model, encoded, 11, "applicant", ids)
    assert by_table.equals(by_frame)
    assert by_frame.equals(by_encoded)
    assert by_table.column_names[:2] == ["row", "applicant"]
    assert by_table.column("row").to_pylist() == list(range(11, 131))
    assert by_table.column("applicant").to_pylist() == frame["applicant"].tolist()
    assert by_table.column("probability").to_pylist() == pytest.approx(
        model.probabilities_of_many(encoded).tolist(), abs=0.0
    )
    assert not any(name.startswith("reason") for name in by_table.column_names)
    # defaults: the first row is 1, no id column, no reasons
    default = score_table(model, table)
    assert default.column("row").to_pylist()[:2] == [1, 2]
    assert "applicant" not in default.column_names
    assert score_frame(model, frame, 1).equals(default)
    assert score_encoded(model, encoded, 1).equals(default)


def test_reason_columns_are_appended_non_nullable_after_the_result(
    model: LoadedModel, applicants: Applicants
) -> None:
    frame = applicants(200, 22)
    encoded = encode_frame(model.contract.features, frame)
    plain = score_encoded(model, encoded, 1)
    table = score_frame(model, frame, 1, reasons_k=2)
    assert same(table, score_encoded(model, encoded, 1, None, None, 2))
    assert table.column_names == [
        *plain.column_names,
        *(f"reason_{i}{end}" for i in (1, 2) for end in ("", "_feature", "_contribution")),
    ]
    assert table.select(plain.column_names).equals(plain)
    expected = reason_columns(model, encoded, 2)
    for name, column in expected.items():
        field = table.schema.field(name)
        assert not field.nullable, name
        assert field.type == column.type
        assert same(table.column(name), column), name
    statement = table.column("reason_1").combine_chunks()
    assert statement.type == pa.dictionary(pa.int32(), pa.string())
    assert statement.dictionary.to_pylist() == [*model.statements.texts, ""]
    feature = table.column("reason_1_feature").combine_chunks()
    assert feature.type == pa.dictionary(pa.int32(), pa.string())
    assert feature.dictionary.to_pylist() == [*model.statements.names, ""]
    assert table.schema.field("reason_1_contribution").type == pa.float64()


def test_per_row_copies_each_group_s_value_to_its_rows() -> None:
    column = np.array([[1.5, 9.0], [2.5, 8.0], [3.5, 7.0]])[:, 0]  # not contiguous
    weights = _array(pa.float64(), column)
    assert weights.to_pylist() == [1.5, 2.5, 3.5]
    as_kind = _array(pa.int32(), np.array([4, 5, 6], dtype=np.int64))
    assert as_kind.type == pa.int32()
    codes = dictionary(as_kind, pa.array(["a", "b", "c", "d", "x", "y", "z"]))
    per_group = {"w": weights, "c": codes}
    assert _per_row(per_group, None) is per_group  # one group per row
    for rows in (np.array([2, 0, 0, 1, 2], dtype=np.int64), np.array([2, 0, 0, 1, 2], np.int32)):
        got = _per_row(per_group, rows)
        assert got["w"].type == pa.float64()
        assert got["w"].to_pylist() == [3.5, 1.5, 1.5, 2.5, 3.5]
        assert got["c"].type == pa.dictionary(pa.int32(), pa.string())
        assert got["c"].to_pylist() == ["z", "x", "x", "y", "z"]
        assert got["c"].dictionary.equals(codes.dictionary)


def test_dictionary_keeps_codes_and_values() -> None:
    column = dictionary(pa.array([2, 0, 1], pa.int32()), pa.array(["x", "y", ""]))
    assert column.type == pa.dictionary(pa.int32(), pa.string())
    assert column.to_pylist() == ["", "x", "y"]
    assert column.null_count == 0


def count_binning(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A pass-through count of ``split_bins``' column binning (``[calls]``, kept current)."""
    binned = [0]
    column_bins = split_bins._column_bins

    def counted(values: np.ndarray, cuts: np.ndarray | None) -> np.ndarray:
        binned[0] += 1
        return column_bins(values, cuts)

    monkeypatch.setattr(split_bins, "_column_bins", counted)
    return binned


def test_rows_are_binned_once_for_probabilities_and_reasons(
    model: LoadedModel, applicants: Applicants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows' ``split_bins.keys`` are computed once and handed to both the grouped
    probabilities and the grouped reasons (a pass-through count of the column binning)."""
    rows = encode_frame(model.contract.features, applicants(2_000, 23))
    encoded = np.tile(rows, (40, 1))  # enough rows for the grouped probabilities' path
    assert model.split_bins.few_groups(len(encoded))
    column_bins = split_bins._column_bins
    binned = count_binning(monkeypatch)
    assert model.split_bins.keys(encoded) is not None
    once = binned[0]
    binned[0] = 0
    with_reasons = score_encoded(model, encoded, 1, None, None, 2)
    assert binned[0] == once
    monkeypatch.setattr(split_bins, "_column_bins", column_bins)
    expected = score_encoded(model, encoded, 1, None, None, 2)
    assert same(with_reasons, expected)


def test_a_chunk_too_small_to_group_is_not_binned_without_reasons(
    model: LoadedModel, applicants: Applicants, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without reasons the keys serve only the grouped probabilities: a chunk too small to
    group (every row evaluated) is never binned (a pass-through count, as above)."""
    encoded = encode_frame(model.contract.features, applicants(500, 24))
    assert not model.split_bins.few_groups(len(encoded))
    binned = count_binning(monkeypatch)
    table = score_encoded(model, encoded, 1)
    assert binned == [0]
    assert table.column("probability").to_pylist() == model.probabilities(encoded).tolist()
