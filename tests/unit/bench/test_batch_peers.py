"""The batch peer benchmark's output check: rows joined by order, every shared column
compared, mismatches fail (pure but for small Parquet files in a temp folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.batch.bench_peers import compare, dask_outputs, our_outputs, partition_sizes

pytestmark = pytest.mark.unit


def outputs(
    proba: list[float], pred: list[int] | None = None, band: list[str] | None = None
) -> dict[str, np.ndarray]:
    n = len(proba)
    return {
        "probability": np.array(proba, dtype=float),
        "prediction": np.array(pred if pred is not None else [0] * n),
        "risk_band": np.array(band if band is not None else ["low"] * n),
    }


def shared_table(rows: list[int], **extra: pa.Array) -> pa.Table:
    band = pa.DictionaryArray.from_arrays(
        pa.array([r % 2 for r in rows], pa.int8()), pa.array(["low", "high"])
    )
    return pa.table(
        {
            **extra,
            "probability": [r / 10 for r in rows],
            "prediction": [r % 2 for r in rows],
            "risk_band": band,
        }
    )


def test_equal_outputs_pass_and_report_the_largest_difference() -> None:
    check = compare(outputs([0.1, 0.2, 0.3]), outputs([0.1, 0.2 + 5e-7, 0.3]))
    assert check["rows"] == 3
    assert check["identical"] == 2
    assert 0 < check["max_abs_diff"] <= 1e-6


@pytest.mark.parametrize(
    "theirs",
    [
        outputs([0.1, 0.2, 0.31]),
        outputs([0.1, 0.2, float("nan")]),
        outputs([0.1, 0.2]),
        outputs([0.1, 0.2, 0.3], pred=[0, 1, 0]),
        outputs([0.1, 0.2, 0.3], band=["low", "low", "high"]),
    ],
    ids=["probability", "nan", "missing-row", "prediction", "band"],
)
def test_a_differing_missing_or_nan_value_fails_the_run(theirs: dict[str, np.ndarray]) -> None:
    with pytest.raises(RuntimeError):
        compare(outputs([0.1, 0.2, 0.3]), theirs)


def test_dask_parts_are_read_in_partition_order_not_name_order(tmp_path: Path) -> None:
    for i in range(12):
        pq.write_table(shared_table([i]), tmp_path / f"part.{i}.parquet")
    got = dask_outputs(tmp_path)
    assert got["probability"].tolist() == [i / 10 for i in range(12)]
    assert got["risk_band"].tolist() == ["low", "high"] * 6


def test_our_results_are_put_in_row_order_and_must_hold_every_row_once(tmp_path: Path) -> None:
    for name, rows in (("part-1", [3, 4]), ("part-0", [1, 2])):
        pq.write_table(shared_table(rows, row=pa.array(rows)), tmp_path / f"{name}.parquet")
    got = our_outputs(tmp_path, 4)
    assert got["probability"].tolist() == [0.1, 0.2, 0.3, 0.4]
    assert got["prediction"].tolist() == [1, 0, 1, 0]
    with pytest.raises(RuntimeError):
        our_outputs(tmp_path, 5)


def test_dask_runs_with_the_configured_and_our_chunk_size() -> None:
    assert partition_sizes(10_000_000, 200_000) == [200_000, 500_000]
    assert partition_sizes(1_000_000, 200_000) == [200_000]  # a short job keeps chunk_rows
