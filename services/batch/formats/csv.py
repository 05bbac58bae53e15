"""CSV: text with a header row. Its header and first rows are checked at submit; a split
task reads it in blocks as text (missing values as nulls), validating and typing the rows
on the way (this is where "abc" in a numeric column is found, with its row). Results
download as one CSV with one header. It is also what undeclared text is read as."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.batch.checks import check_frame, missing_columns, needed_columns
from services.batch.domain import BadInput
from services.batch.formats.base import Features, InputFormat, ResultFiles
from services.core.reason_layout import with_null_reasons

BLOCK_BYTES = 4 << 20


def csv_batches(path: Path, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """Stream a CSV's ``columns`` as text in blocks (missing values as nulls)."""
    options = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in columns},
        include_columns=list(columns),
        strings_can_be_null=True,
    )
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            convert_options=options,
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        raise BadInput(f"not a readable CSV file: {exc}") from exc


def check_csv(path: Path, features: Features, id_column: str | None, check_rows: int) -> None:
    """Check a CSV input's header and first rows (its row count is known after a split)."""
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20))
        header = reader.schema.names
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise BadInput(f"not a readable CSV file: {exc}") from exc
    missing = [c for c in needed_columns(features, id_column) if c not in header]
    if missing:
        raise missing_columns(missing, header, "CSV header has")
    first = next(csv_batches(path, needed_columns(features, id_column)), None)
    if first is None or first.num_rows == 0:
        raise BadInput("no data rows")
    check_frame(first.slice(0, check_rows).to_pandas(), features)


def stream_csv(chunks: ResultFiles) -> Iterator[bytes]:
    """One CSV (a header, then every chunk's rows), streamed chunk by chunk."""
    for n, (_, path) in enumerate(chunks):
        sink = io.BytesIO()
        table = with_null_reasons(pq.read_table(path))  # an empty cell, not "" or nan
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=n == 0))
        yield sink.getvalue()


FORMAT = InputFormat(
    name="csv",
    title="CSV",
    media_types=("text/csv", "application/csv", "text/plain"),
    suffixes=(".csv",),
    check=check_csv,
    batches=csv_batches,
    text=True,
    write_results=stream_csv,
)
