"""One chunk scored, written atomically and never scored twice; results served in order."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch.domain import BadInput, ChunkSpec
from services.batch.formats.csv import stream_csv
from services.batch.formats.parquet import plan_parquet, stream_parquet
from services.batch.service.results import page
from services.batch.state.result_files import read_summary
from services.batch.worker.chunk import run_chunk
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit
Applicants = Callable[[int, int], pd.DataFrame]


def _scored(
    tmp_path: Path,
    model: LoadedModel,
    frame: pd.DataFrame,
    chunk: int,
    id_column: str | None = None,
) -> list[tuple[ChunkSpec, Path]]:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=100)
    plan = plan_parquet(source, chunk)
    assert plan is not None
    out = []
    for spec in plan:
        path = tmp_path / "results" / f"part-{spec.index:06d}.parquet"
        run_chunk(model, spec, path, id_column, "test:1", fsync=True)
        out.append((spec, path))
    return out


def test_chunks_equal_in_process_predictions_in_input_order(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    frame = applicants(1_050, 1)
    frame["loan"] = [f"L{i}" for i in range(len(frame))]
    chunks = _scored(tmp_path, model, frame, 300, "loan")
    results = pa.concat_tables([pq.read_table(p) for _, p in chunks]).to_pandas()
    want = model.predict(encode_frame(model.contract.features, frame))
    assert results["row"].tolist() == list(range(1, 1_051))
    assert results["loan"].tolist() == frame["loan"].tolist()
    np.testing.assert_array_equal(results["probability"].to_numpy(), want.probability)
    np.testing.assert_array_equal(results["prediction"].to_numpy(), want.label)
    assert results["risk_band"].astype(str).tolist() == want.band.tolist()
    assert results["model_version"].astype(str).unique().tolist() == [model.version]
    summary = read_summary(chunks[0][1])
    assert summary.model_version == model.version
    assert (summary.rows, summary.worker, summary.skipped) == (300, "test:1", True)
    assert summary.positives == int(want.label[:300].sum())
    assert sum(summary.bands.values()) == 300
    assert not list((tmp_path / "results").glob(".*"))  # no temporary file left behind


def test_a_chunk_whose_result_exists_is_not_scored_again(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    spec, path = _scored(tmp_path, model, applicants(200, 2), 200)[0]
    before = path.stat().st_mtime_ns
    Path(spec.path).unlink()  # nothing could be read: the stored summary must be used
    again = run_chunk(model, spec, path, None)
    assert again.skipped
    assert again.rows == 200
    assert path.stat().st_mtime_ns == before


def test_bad_rows_and_changed_inputs_are_reported_input_wide(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    frame = applicants(400, 3)
    frame.loc[333, "balance"] = np.nan
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=100)
    spec = ChunkSpec(3, str(source), 300, 100, (3, 4))
    with pytest.raises(BadInput) as caught:
        run_chunk(model, spec, tmp_path / "r.parquet", None)
    assert caught.value.details[0]["rows"] == [334]
    changed = ChunkSpec(0, str(source), 0, 150, (0, 1))
    with pytest.raises(BadInput, match="input changed since submit"):
        run_chunk(model, changed, tmp_path / "r.parquet", None)
    assert not (tmp_path / "r.parquet").exists()


def test_downloads_and_pages_follow_input_order(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    chunks = _scored(tmp_path, model, applicants(1_000, 4), 300)
    whole = pa.concat_tables([pq.read_table(p) for _, p in chunks]).to_pandas()
    parquet = pq.read_table(io.BytesIO(b"".join(stream_parquet(chunks)))).to_pandas()
    pd.testing.assert_frame_equal(parquet, whole)
    csv = pd.read_csv(io.BytesIO(b"".join(stream_csv(chunks))))
    assert csv["row"].tolist() == whole["row"].tolist()
    np.testing.assert_array_equal(csv["probability"].to_numpy(), whole["probability"].to_numpy())
    rows = page(chunks, 290, 25)
    assert [r["row"] for r in rows] == list(range(291, 316))
    assert rows[0]["risk_band"] == whole["risk_band"][290]
    assert page(chunks, 990, 50)[-1]["row"] == 1_000
    assert page(chunks, 1_000, 10) == []


def test_result_files_keep_their_schema_delta_encode_rows_and_number_statistics(
    tmp_path: Path, model: LoadedModel, applicants: Applicants
) -> None:
    _, path = _scored(tmp_path, model, applicants(300, 4), 300)[0]
    table = pq.read_table(path)
    assert table.column_names == ["row", "probability", "prediction", "risk_band", "model_version"]
    assert [str(t) for t in table.schema.types][:3] == ["int64", "double", "int8"]
    assert all(pa.types.is_dictionary(t) for t in table.schema.types[3:])
    group = pq.ParquetFile(path).metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(5)}
    assert "DELTA_BINARY_PACKED" in columns["row"].encodings
    assert (columns["row"].statistics.min, columns["row"].statistics.max) == (1, 300)
    assert columns["probability"].is_stats_set
    assert columns["prediction"].is_stats_set
    assert not columns["risk_band"].is_stats_set
    assert columns["risk_band"].has_dictionary_page
