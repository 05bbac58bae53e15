"""Chunks checked and encoded straight from Arrow: the same matrix as the pandas path, bit
for bit, and None (the pandas path reports) whenever a value might break the contract."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch.checks import check_frame
from services.batch.domain import BadInput
from services.batch.formats.parquet import plan_parquet
from services.batch.worker.arrow_encoding import encode_checked
from services.batch.worker.chunk import encode_chunk, read_chunk
from services.batch.worker.scoring import score_encoded, score_frame
from services.core.contract import FeatureSpec, FeatureType
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit
NUM, CAT = FeatureType.NUMERIC, FeatureType.CATEGORICAL


def _num(nullable: bool = False, lo: float | None = 0.0, hi: float | None = 1e6) -> FeatureSpec:
    return FeatureSpec(name="x", type=NUM, min=lo, max=hi, nullable=nullable)


def _cat(nullable: bool = False) -> FeatureSpec:
    return FeatureSpec(name="x", type=CAT, levels=["No", "Yes", "Maybe"], nullable=nullable)


def _dictionary(*chunks: list[str | None]) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(c, pa.string()).dictionary_encode() for c in chunks])


def _as_pandas_path(table: pa.Table, spec: FeatureSpec) -> np.ndarray:
    frame = table.to_pandas()
    check_frame(frame, [spec])
    return encode_frame([spec], frame)


PASSING = {
    "float64": (_num(), pa.chunked_array([[0.5, 12.25, 1e6, 0.0]])),
    "float32": (_num(), pa.chunked_array([np.array([0.1, 3.3, 7.7], np.float32)])),
    "int64": (_num(), pa.chunked_array([[0, 5, 999_999]], pa.int64())),
    "int32, two chunks": (_num(), pa.chunked_array([[1, 2], [3]], pa.int32())),
    "uint8": (_num(), pa.chunked_array([[0, 255]], pa.uint8())),
    "int64 with nulls": (_num(True), pa.chunked_array([[1, None, 3]], pa.int64())),
    "float64, nulls and NaN": (_num(True), pa.chunked_array([[1.5, None, float("nan")]])),
    "float64, all null": (_num(True), pa.chunked_array([[None, None]], pa.float64())),
    "no bounds": (_num(lo=None, hi=None), pa.chunked_array([[-5.0, 5e9]])),
    "dictionary": (_cat(), _dictionary(["Yes", "No", "Yes", "Maybe"])),
    "dictionaries per chunk": (_cat(), _dictionary(["Maybe", "No"], ["Yes", "Yes", "No"])),
    "dictionary with nulls": (_cat(True), _dictionary(["No", None, "Yes"])),
    "unused unknown level": (
        _cat(),
        pa.chunked_array(
            [pa.DictionaryArray.from_arrays(pa.array([0, 0, 2], pa.int8()), ["Yes", "Other", "No"])]
        ),
    ),
}


@pytest.mark.parametrize("case", PASSING)
def test_arrow_encoding_equals_the_pandas_path_bit_for_bit(case: str) -> None:
    spec, column = PASSING[case]
    table = pa.table({"x": column, "other": pa.array(range(len(column)))})
    got = encode_checked(table, [spec])
    assert got is not None
    want = _as_pandas_path(table, spec)
    assert got.dtype == want.dtype == np.float32
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()  # NaN and all


FAILING = {
    "NaN, not nullable": (_num(), pa.chunked_array([[1.0, float("nan")]])),
    "null, not nullable": (_num(), pa.chunked_array([[1.0, None]], pa.float64())),
    "infinite": (_num(lo=None, hi=None), pa.chunked_array([[1.0, float("inf")]])),
    "below min": (_num(), pa.chunked_array([[-0.5, 1.0]])),
    "above max": (_num(), pa.chunked_array([[1e6 + 1]])),
    "unknown level": (_cat(), _dictionary(["No", "Perhaps"])),
    "null level, not nullable": (_cat(), _dictionary(["No", None])),
}


@pytest.mark.parametrize("case", FAILING)
def test_values_the_contract_rejects_go_to_the_pandas_path(case: str) -> None:
    spec, column = FAILING[case]
    table = pa.table({"x": column})
    assert encode_checked(table, [spec]) is None
    with pytest.raises(BadInput):
        check_frame(table.to_pandas(), [spec])


OTHER_TYPES = {
    "decimal": (_num(), pa.chunked_array([[decimal.Decimal("1.5")]], pa.decimal128(5, 2))),
    "float16": (_num(), pa.chunked_array([np.array([1.0], np.float16)])),
    "text numbers": (_num(), pa.chunked_array([["1.5"]])),
    "plain strings": (_cat(), pa.chunked_array([["No", "Yes"]])),
    "integer levels": (_cat(), pa.chunked_array([[0, 1]], pa.int64())),
    "no rows": (_num(), pa.chunked_array([[]], pa.float64())),
}


@pytest.mark.parametrize("case", OTHER_TYPES)
def test_other_column_types_go_to_the_pandas_path(case: str) -> None:
    spec, column = OTHER_TYPES[case]
    assert encode_checked(pa.table({"x": column}), [spec]) is None


def test_a_missing_column_goes_to_the_pandas_path() -> None:
    assert encode_checked(pa.table({"y": [1.0]}), [_num()]) is None


def test_chunks_score_the_same_from_arrow_as_from_pandas(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(5_000, 7)
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=1_000)
    features = model.contract.features
    for spec in plan_parquet(source, 2_000) or []:
        table = read_chunk(model, spec, None)
        assert pa.types.is_dictionary(table.schema.field("student").type)
        arrow = encode_checked(table, features)
        assert arrow is not None
        pandas = table.select([f.name for f in features]).to_pandas()
        want = score_frame(model, pandas, spec.offset + 1)
        got = score_encoded(model, encode_chunk(model, table, spec.offset), spec.offset + 1)
        assert got.equals(want)
        assert got.column("probability").to_numpy().tobytes() == (
            want.column("probability").to_numpy().tobytes()
        )
