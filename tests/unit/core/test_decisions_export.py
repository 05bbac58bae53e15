"""The decision export's file writing and range parsing (services/core/decisions/export.py):
each format, an empty range, slices, replacing an earlier export, bad formats and dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from services.core.decisions import export
from services.core.decisions.export import FIELDS, SCHEMA, parse_when, write_export
from services.core.decisions.record import (
    COLUMNS,
    InputsMode,
    online_decision_id,
    to_row,
)
from tests.support.decision_samples import AT, REASONS, decision

pytestmark = pytest.mark.unit


def stored(item: int, /, **changes: Any) -> dict[str, Any]:
    """A row as the store hands it to the export (column → value, ``day`` included)."""
    made = decision(
        decision_id=online_decision_id("abc", item),
        inputs={"income": 41000.5, "student": "No"},
        item=item,
    )
    return {**dict(zip(COLUMNS, to_row(made, InputsMode.VALUES), strict=True)), **changes}


@pytest.mark.parametrize("fmt", ["xlsx", "CSV", ""])
def test_an_unknown_format_is_refused_and_writes_nothing(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "d.out"
    with pytest.raises(ValueError, match=rf"^unknown format {fmt!r} \(parquet or csv\)$"):
        write_export([stored(1)], out, fmt)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_range_writes_a_parquet_file_with_the_columns_and_no_row(
    tmp_path: Path,
) -> None:
    out = tmp_path / "nested" / "empty.parquet"  # missing directories are made
    assert write_export(iter([]), out, "parquet") == 0
    table = pq.read_table(out)
    assert table.schema == SCHEMA
    assert table.num_rows == 0


def test_an_empty_range_writes_a_csv_header_only(tmp_path: Path) -> None:
    out = tmp_path / "empty.csv"
    assert write_export([], out, "csv") == 0
    lines = out.read_text().splitlines()
    assert lines == [",".join(f'"{name}"' for name in FIELDS)]


def test_csv_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    rows = [stored(1), stored(2, job_id="job-1", row_index=5, request_id=None, item=None)]
    assert write_export(rows, tmp_path / "d.parquet", "parquet") == 2
    assert write_export(rows, tmp_path / "d.csv", "csv") == 2
    parquet = pq.read_table(tmp_path / "d.parquet")
    csv = pacsv.read_csv(
        tmp_path / "d.csv",
        # a null is an unquoted empty cell, an empty text a quoted one
        convert_options=pacsv.ConvertOptions(
            column_types=SCHEMA, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    assert csv.select(FIELDS).equals(parquet)
    first, second = parquet.to_pylist()
    assert "day" not in first  # the partition key is not exported
    assert first["decided_at"] == AT
    assert (first["item"], second["job_id"], second["row_index"]) == (1, "job-1", 5)
    assert second["request_id"] is None
    assert second["item"] is None


def test_json_columns_are_compact_sorted_text_and_text_is_kept_as_is(tmp_path: Path) -> None:
    rows = [
        stored(1, inputs={"b": 1, "a": [2, 3]}),
        stored(2, inputs='{"b": 1}', reasons="[]"),  # already JSON text (a chunk's row)
    ]
    out = tmp_path / "d.parquet"
    write_export(rows, out, "parquet")
    first, second = pq.read_table(out).to_pylist()
    assert first["inputs"] == '{"a":[2,3],"b":1}'
    assert json.loads(first["reasons"]) == REASONS
    assert first["baseline"] is None
    assert (second["inputs"], second["reasons"]) == ('{"b": 1}', "[]")


def test_rows_are_written_in_slices_in_their_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "SLICE_ROWS", 2)
    out = tmp_path / "d.parquet"
    assert write_export((stored(i) for i in range(5)), out, "parquet") == 5
    assert pq.ParquetFile(out).metadata.num_row_groups == 3  # one per slice: 2 + 2 + 1
    assert pq.read_table(out).column("item").to_pylist() == [0, 1, 2, 3, 4]


def test_an_export_replaces_the_earlier_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    write_export([stored(1), stored(2), stored(3)], out, "csv")
    assert write_export([stored(9)], out, "csv") == 1
    assert pacsv.read_csv(out).column("item").to_pylist() == [9]
    assert [p.name for p in tmp_path.iterdir()] == ["d.csv"]


def test_a_failed_export_keeps_the_earlier_file_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "d.parquet"
    write_export([stored(1)], out, "parquet")
    broken = {k: v for k, v in stored(2).items() if k != "probability"}
    with pytest.raises(KeyError, match="probability"):
        write_export([stored(3), broken], out, "parquet")
    assert pq.read_table(out).column("item").to_pylist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["d.parquet"]  # no half-written temporary


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2026-03-01", False, datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01", True, datetime(2026, 3, 2, tzinfo=UTC)),  # the whole day
        ("2026-03-31", True, datetime(2026, 4, 1, tzinfo=UTC)),
        ("20260301", True, datetime(2026, 3, 2, tzinfo=UTC)),  # the basic form: a date too
        ("2026-03-01T12:30:00", True, datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),  # exclusive
        ("2026-03-01T00:00", True, datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01 12:30", False, datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        (
            "2026-03-01T12:30:00+02:00",
            True,
            datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_parse_when(text: str, end: bool, expected: datetime) -> None:
    parsed = parse_when(text, end=end)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_an_offset_time_keeps_its_instant() -> None:
    assert parse_when("2026-03-01T12:30:00+02:00") == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("yesterday", "Invalid isoformat string"),
        ("", "Invalid isoformat string"),
        ("01/03/2026", "Invalid isoformat string"),
        ("2026-13-01", "month must be in 1..12"),
        ("2026-02-30", "day is out of range for month"),
    ],
)
def test_a_bad_date_is_a_value_error_that_says_why(text: str, error: str) -> None:
    # the CLI prints it as "bad date: ..." and exits 2
    with pytest.raises(ValueError, match=error):
        parse_when(text, end=True)
