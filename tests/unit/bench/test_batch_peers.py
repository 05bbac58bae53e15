"""The batch peer benchmark's output check: rows joined by order, mismatches fail (pure
but for small Parquet files in a temp folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.batch.bench_peers import compare, dask_probabilities, our_probabilities

pytestmark = pytest.mark.unit


def test_equal_outputs_pass_and_report_the_largest_difference() -> None:
    ours = np.array([0.1, 0.2, 0.3])
    check = compare(ours, ours + np.array([0.0, 5e-7, 0.0]))
    assert check["rows"] == 3
    assert check["identical"] == 2
    assert 0 < check["max_abs_diff"] <= 1e-6


@pytest.mark.parametrize(
    "theirs",
    [np.array([0.1, 0.2, 0.31]), np.array([0.1, 0.2, np.nan]), np.array([0.1, 0.2])],
)
def test_a_differing_missing_or_nan_probability_fails_the_run(theirs: np.ndarray) -> None:
    with pytest.raises(RuntimeError):
        compare(np.array([0.1, 0.2, 0.3]), theirs)


def test_dask_parts_are_read_in_partition_order_not_name_order(tmp_path: Path) -> None:
    for i in range(12):
        pq.write_table(pa.table({"probability": [float(i)]}), tmp_path / f"part.{i}.parquet")
    assert dask_probabilities(tmp_path).tolist() == [float(i) for i in range(12)]


def test_our_results_are_put_in_row_order_and_must_hold_every_row_once(tmp_path: Path) -> None:
    for name, rows in (("part-1", [3, 4]), ("part-0", [1, 2])):
        table = pa.table({"row": rows, "probability": [r / 10 for r in rows]})
        pq.write_table(table, tmp_path / f"{name}.parquet")
    assert our_probabilities(tmp_path, 4).tolist() == [0.1, 0.2, 0.3, 0.4]
    with pytest.raises(RuntimeError):
        our_probabilities(tmp_path, 5)
