"""Chunk plans from Parquet row groups, and the split into exact-size parts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch.domain import BadInput, ChunkSpec
from services.batch.formats.csv import FORMAT as CSV
from services.batch.formats.parquet import plan_parquet
from services.batch.state.storage import JobPaths
from services.batch.worker.split import rebatch, split_input
from services.core.datasets import load_config

pytestmark = pytest.mark.unit
FEATURES = load_config("default").features


def _parquet(path: Path, rows: int, group: int) -> Path:
    table = pa.table({"student": ["No"] * rows, "balance": [1.0] * rows, "income": [2.0] * rows})
    pq.write_table(table, path, row_group_size=group)
    return path


@pytest.mark.parametrize(
    ("rows", "group", "chunk", "expected"),
    [
        (1_000, 100, 250, [(0, 2, 200), (2, 4, 200), (4, 6, 200), (6, 8, 200), (8, 10, 200)]),
        (1_000, 300, 250, [(0, 1, 300), (1, 2, 300), (2, 3, 300), (3, 4, 100)]),
        (1_000, 100, 1_000, [(0, 10, 1_000)]),
        (950, 100, 400, [(0, 4, 400), (4, 8, 400), (8, 10, 150)]),
        # more than 8 chunks: the last 2 chunks' rows (400) in row-group chunks
        (
            2_000,
            100,
            200,
            [
                *((i, i + 2, 200) for i in range(0, 16, 2)),
                *((i, i + 1, 100) for i in range(16, 20)),
            ],
        ),
        (
            2_050,
            100,
            200,
            [
                *((i, i + 2, 200) for i in range(0, 16, 2)),
                (16, 17, 100),
                (17, 18, 100),
                (18, 19, 100),
                (19, 20, 100),
                (20, 21, 50),
            ],
        ),
    ],
)
def test_chunks_are_runs_of_whole_row_groups(
    tmp_path: Path, rows: int, group: int, chunk: int, expected: list[tuple[int, int, int]]
) -> None:
    path = _parquet(tmp_path / "in.parquet", rows, group)
    plan = plan_parquet(path, chunk)
    assert plan is not None
    assert [(c.row_groups[0], c.row_groups[1], c.rows) for c in plan if c.row_groups] == expected
    assert [c.index for c in plan] == list(range(len(plan)))
    offsets = [c.offset for c in plan]
    assert offsets == [sum(c.rows for c in plan[:i]) for i in range(len(plan))]
    assert plan == [ChunkSpec.from_json(c.to_json()) for c in plan]


def test_row_groups_far_larger_than_a_chunk_need_a_split(tmp_path: Path) -> None:
    assert plan_parquet(_parquet(tmp_path / "in.parquet", 1_000, 1_000), 400) is None


@pytest.mark.parametrize("sizes", [[7, 7, 7, 7], [1] * 30, [30], [13, 2, 9, 6]])
def test_rebatch_gives_exact_sizes_whatever_comes_in(sizes: list[int]) -> None:
    start, batches = 0, []
    for size in sizes:
        batches.append(pa.record_batch({"x": list(range(start, start + size))}))
        start += size
    tables = list(rebatch(batches, 8))
    assert [t.num_rows for t in tables] == [8] * (start // 8) + ([start % 8] if start % 8 else [])
    assert pa.concat_tables(tables).column("x").to_pylist() == list(range(start))


def test_csv_split_writes_typed_parts_and_keeps_existing_ones(tmp_path: Path) -> None:
    csv = tmp_path / "in.csv"
    pd.DataFrame(
        {
            "student": ["No", "Yes"] * 25,
            "balance": range(50),
            "income": [5.5] * 50,
            "extra": ["x"] * 50,
        }
    ).to_csv(csv, index=False)
    paths = JobPaths(tmp_path, "a" * 32)
    specs = list(split_input(csv, CSV, paths, 20, FEATURES, None))
    assert [(s.index, s.offset, s.rows) for s in specs] == [(0, 0, 20), (1, 20, 20), (2, 40, 10)]
    first = pq.read_table(specs[0].path)
    assert first.column_names == ["student", "balance", "income"]
    assert first.schema.field("balance").type == pa.float64()
    mtime = Path(specs[0].path).stat().st_mtime_ns
    assert list(split_input(csv, CSV, paths, 20, FEATURES, None)) == specs
    assert Path(specs[0].path).stat().st_mtime_ns == mtime


def test_csv_split_reports_bad_rows_with_input_row_numbers(tmp_path: Path) -> None:
    csv = tmp_path / "in.csv"
    balance = [str(i) for i in range(50)]
    balance[44] = "lots"
    pd.DataFrame({"student": ["No"] * 50, "balance": balance, "income": [1] * 50}).to_csv(
        csv, index=False
    )
    with pytest.raises(BadInput) as caught:
        list(split_input(csv, CSV, JobPaths(tmp_path, "b" * 32), 20, FEATURES, None))
    assert caught.value.details[0]["rows"] == [45]
    assert "input rows 41-50" in caught.value.message
