"""Reason code columns of batch results: every row, the same reasons as the one-row path,
readable in every download format, and gone when the setting is 0."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from services.batch.formats.csv import stream_csv
from services.batch.formats.parquet import plan_parquet, stream_parquet
from services.batch.service.results import page
from services.batch.worker.chunk import run_chunk
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from services.core.reason_layout import with_null_reasons
from services.core.reasons import top_reasons

pytestmark = pytest.mark.unit
Applicants = Callable[[int, int], pd.DataFrame]


def scored(
    tmp_path: Path, model: LoadedModel, frame: pd.DataFrame, k: int
) -> list[tuple[object, Path]]:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=100)
    plan = plan_parquet(source, 250)
    assert plan is not None
    out = []
    for spec in plan:
        path = tmp_path / f"k{k}" / f"part-{spec.index:06d}.parquet"
        run_chunk(model, spec, path, None, "test:1", True, reasons_k=k)
        out.append((spec, path))
    return out


def test_every_row_gets_k_reason_columns_equal_to_the_one_row_path(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    frame = applicants(600, 4)
    stored = pa.concat_tables([pq.read_table(p) for _, p in scored(tmp_path, model, frame, 2)])
    for i in (1, 2):  # REQUIRED in the file: "" / NaN where a row has no i-th reason
        for name in (f"reason_{i}", f"reason_{i}_feature", f"reason_{i}_contribution"):
            assert not stored.schema.field(name).nullable
            assert stored.column(name).null_count == 0
        none = stored.column(f"reason_{i}_feature").to_pylist()
        weights = stored.column(f"reason_{i}_contribution").to_numpy()
        assert [f == "" for f in none] == np.isnan(weights).tolist()
    assert "" in stored.column("reason_2").to_pylist()
    results = with_null_reasons(stored)  # readers' view: null where no reason
    assert results.column_names[-6:] == [
        "reason_1",
        "reason_1_feature",
        "reason_1_contribution",
        "reason_2",
        "reason_2_feature",
        "reason_2_contribution",
    ]
    assert pa.types.is_dictionary(results.schema.field("reason_1").type)
    rows = results.to_pylist()
    encoded = encode_frame(model.contract.features, frame)
    plain = model.predict(encoded)  # scoring through the explaining DMatrix changes nothing
    assert results.column("probability").to_pylist() == plain.probability.tolist()
    contributions = model.contributions(encoded)
    names = model.contract.feature_names
    for i, row in enumerate(rows):
        values = [frame.iloc[i][n] for n in names]
        expected = top_reasons(contributions[i], values, model.statements, k=2)
        got = [
            (row[f"reason_{j}_feature"], row[f"reason_{j}_contribution"], row[f"reason_{j}"])
            for j in (1, 2)
            if row[f"reason_{j}"] is not None
        ]
        assert got == [(r.feature, pytest.approx(r.contribution), r.statement) for r in expected]
        for j in (1, 2):  # a reason is all there or all null
            parts = [
                row[f"reason_{j}"],
                row[f"reason_{j}_feature"],
                row[f"reason_{j}_contribution"],
            ]
            assert all(p is None for p in parts) or all(p is not None for p in parts)
    declined = [r for r in rows if r["prediction"] == 1]
    assert declined
    assert all(r["reason_1"] for r in declined)
    assert {r["reason_1"] for r in rows if r["reason_1"]} <= set(model.statements.texts)


def test_reason_columns_in_csv_parquet_and_json_pages(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    chunks = scored(tmp_path, model, applicants(600, 5), 4)
    files = [(spec, path) for spec, path in chunks]
    csv = pacsv.read_csv(io.BytesIO(b"".join(stream_csv(files))))  # type: ignore[arg-type]
    parquet = pq.read_table(io.BytesIO(b"".join(stream_parquet(files))))  # type: ignore[arg-type]
    json_rows = page(files, 0, 600)  # type: ignore[arg-type]
    assert csv.num_rows == parquet.num_rows == len(json_rows) == 600
    for column in ("reason_1", "reason_4_feature", "reason_3_contribution"):
        assert column in csv.column_names
        assert column in parquet.column_names
    assert None in [r["reason_4"] for r in json_rows]  # Default has 3 features: never 4
    # CSV has no null: no reason is an empty cell
    assert csv.column("reason_1").to_pylist() == [r["reason_1"] or "" for r in json_rows]
    assert csv.column("reason_4_contribution").null_count == 600  # empty, not "nan"
    assert b"nan" not in b"".join(stream_csv(files)).lower()  # type: ignore[arg-type]
    # Parquet as written: "" / NaN (non-nullable columns) where JSON and CSV show nothing
    assert parquet.column("reason_1_feature").to_pylist() == [
        r["reason_1_feature"] or "" for r in json_rows
    ]
    assert not parquet.schema.field("reason_1_contribution").nullable
    assert all(r["reason_4_contribution"] is None for r in json_rows)


def test_zero_turns_the_columns_off(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    (_, path), *_ = scored(tmp_path, model, applicants(200, 6), 0)
    assert pq.read_table(path).column_names == [
        "row",
        "probability",
        "prediction",
        "risk_band",
        "model_version",
    ]
