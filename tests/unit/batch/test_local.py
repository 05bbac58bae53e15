"""The in-process fallback runs the same chunk code and gives the queue's results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch.domain import BadInput
from services.batch.state.result_files import read_summary
from services.batch.state.storage import Storage
from services.batch.worker import local
from services.batch.worker.local import run_local
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit


def _write(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    """``frame`` as CSV or Parquet, by the file's suffix."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, path, row_group_size=row_group_size)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_local_run_scores_every_row_once_in_order(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], fmt: str
) -> None:
    frame = applicants(2_345, 5)
    source = _write(frame, tmp_path / f"in.{fmt}", row_group_size=500)
    seen: list[tuple[int, int | None]] = []
    result = run_local(
        model,
        Storage(tmp_path / "store"),
        source,
        1_000,
        progress=lambda done, total: seen.append((done, total)),
    )
    scored = pa.concat_tables([pq.read_table(p) for p in result.result_files]).to_pandas()
    want = model.predict(encode_frame(model.contract.features, frame))
    assert scored["row"].tolist() == list(range(1, 2_346))
    np.testing.assert_array_equal(scored["probability"].to_numpy(), want.probability)
    assert (result.rows, result.positives) == (2_345, int(want.label.sum()))
    assert sum(result.bands.values()) == 2_345
    assert seen[-1] == (2_345, 2_345 if fmt == "parquet" else None)
    final = Storage(tmp_path / "store").job(result.job_id).read_final()
    assert final is not None
    assert final["state"] == "succeeded"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_feature_can_be_the_id_column(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], fmt: str
) -> None:
    frame = applicants(300, 6)
    source = _write(frame, tmp_path / f"in.{fmt}")
    result = run_local(model, Storage(tmp_path / "store"), source, 1_000, id_column="income")
    scored = pa.concat_tables([pq.read_table(p) for p in result.result_files]).to_pandas()
    want = model.predict(encode_frame(model.contract.features, frame))
    np.testing.assert_array_equal(scored["probability"].to_numpy(), want.probability)
    np.testing.assert_allclose(scored["income"].to_numpy(), frame["income"].to_numpy())


def test_a_local_run_writes_the_final_state_names_itself_and_adds_no_reasons_by_default(
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = _write(applicants(120, 7), tmp_path / "in.parquet", row_group_size=50)
    clock = iter([10.0, 12.5])
    monkeypatch.setattr(local, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    storage = Storage(tmp_path / "store")
    result = run_local(model, storage, source, 50)
    assert result.seconds == 2.5
    paths = storage.job(result.job_id)
    assert not paths.parts.exists()  # Parquet row groups are read in place: no split
    final = paths.read_final()
    assert final is not None
    assert final["expires_at"] - final["finished_at"] == pytest.approx(86_400)
    assert final | {"finished_at": 0, "expires_at": 0} == {
        "state": "succeeded",
        "finished_at": 0,
        "expires_at": 0,
        "rows": 120,
        "local": True,
    }
    table = pq.read_table(result.result_files[0])
    assert not [c for c in table.column_names if c.startswith("reason_")]
    assert read_summary(result.result_files[0]).worker == "in-process"


def test_a_local_run_adds_the_reasons_asked_for(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = _write(applicants(60, 8), tmp_path / "in.csv")
    result = run_local(model, Storage(tmp_path / "store"), source, 50, reasons_k=2)
    names = pq.read_table(result.result_files[0]).column_names
    assert "reason_2" in names
    assert "reason_3" not in names


def test_a_missing_id_column_is_refused_before_any_chunk(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    source = _write(applicants(60, 9), tmp_path / "in.parquet")
    store = tmp_path / "store"
    with pytest.raises(BadInput, match=r"^input columns do not match the model contract$"):
        run_local(model, Storage(store), source, 50, id_column="loan_id")
    assert not list(store.rglob("*.parquet"))
