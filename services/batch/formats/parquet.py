"""Parquet: typed columns, checked by schema at submit, scored in place when it can be.

A Parquet input whose row groups are at most twice the chunk size is used in place: a
chunk is a run of whole row groups of about ``chunk_rows`` rows, read straight from the
file by the worker (no copy). One with huge row groups is split by a task into part files
of exactly ``chunk_rows`` rows. The plan depends only on the file and ``chunk_rows``, so
it can be rebuilt identically. In a long input the rows of the last ``TAIL_CHUNKS`` chunks
are cut finer (chunks a ``TAIL_DIVISOR``-th as long, still whole row groups), so the
workers run out of work together instead of one scoring a full chunk while the others
wait. Results download as one Parquet file, a row group per chunk.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.checks import check_frame, needed_columns
from services.batch.domain import BadInput, ChunkSpec
from services.batch.formats.base import Features, InputFormat, ResultFiles

MAGIC = b"PAR1"
MAX_GROUP_FACTOR = 2  # a row group up to this many chunks long is scored as one chunk
TAIL_CHUNKS = 2  # the rows of the last this many chunks are cut into finer chunks ...
TAIL_DIVISOR = 4  # ... this many times shorter (a row group at the least) ...
TAIL_MIN_CHUNKS = 8  # ... in inputs longer than this many chunks
BATCH_ROWS = 65_536  # rows per record batch when a split streams the file


def open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInput(f"not a readable Parquet file: {exc}") from exc


def schema_problems(
    schema: pa.Schema, features: Features, id_column: str | None
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for name in needed_columns(features, id_column):
        if schema.get_field_index(name) < 0:
            problems.append({"column": name, "message": "missing column", "rows": [], "count": 0})
    for spec in features:
        index = schema.get_field_index(spec.name)
        kind = schema.field(index).type if index >= 0 else None
        if kind is not None and not _type_fits(spec.is_categorical, kind):
            want = "text (or integer) levels" if spec.is_categorical else "numbers"
            problems.append(
                {
                    "column": spec.name,
                    "message": f"expected {want}, file has {kind}",
                    "rows": [],
                    "count": 0,
                }
            )
    return problems


def _type_fits(categorical: bool, kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if categorical:
        return (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
        )
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def check_parquet(path: Path, features: Features, id_column: str | None, check_rows: int) -> int:
    """Check a Parquet input; return its row count."""
    pf = open_parquet(path)
    problems = schema_problems(pf.schema_arrow, features, id_column)
    if problems:
        raise BadInput("input columns do not match the model contract", problems)
    if pf.metadata.num_rows == 0:
        raise BadInput("no data rows")
    columns = needed_columns(features, id_column)
    batch = next(pf.iter_batches(batch_size=check_rows, columns=columns))
    check_frame(batch.to_pandas(), features)
    return int(pf.metadata.num_rows)


def plan_parquet(path: Path, chunk_rows: int) -> list[ChunkSpec] | None:
    """Chunks of whole row groups, or None when a row group is too big (split instead)."""
    meta = open_parquet(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    if any(size > MAX_GROUP_FACTOR * chunk_rows for size in sizes):
        return None
    chunks: list[ChunkSpec] = []
    start, offset, rows = 0, 0, 0
    tail_from = tail_start(sum(sizes), chunk_rows)
    fine = max(1, chunk_rows // TAIL_DIVISOR)
    for group, size in enumerate(sizes):
        target = chunk_rows if offset + rows < tail_from else fine
        if rows and rows + size > target:
            chunks.append(ChunkSpec(len(chunks), str(path), offset, rows, (start, group)))
            start, offset, rows = group, offset + rows, 0
        rows += size
    if rows:
        chunks.append(ChunkSpec(len(chunks), str(path), offset, rows, (start, len(sizes))))
    return chunks


def tail_start(total_rows: int, chunk_rows: int) -> int:
    """The row from which chunks are cut finer (``total_rows``: none are)."""
    if total_rows <= TAIL_MIN_CHUNKS * chunk_rows:
        return total_rows
    return total_rows - TAIL_CHUNKS * chunk_rows


def parquet_batches(path: Path, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    yield from open_parquet(path).iter_batches(batch_size=BATCH_ROWS, columns=list(columns))


class _Sink(io.RawIOBase):
    """A write-only file that hands out what was written since the last ``take``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        block = bytes(data)
        self.parts.append(block)
        self.position += len(block)
        return len(block)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def stream_parquet(chunks: ResultFiles) -> Iterator[bytes]:
    """One Parquet file with a row group per chunk, streamed as each chunk is added."""
    sink = _Sink()
    writer: pq.ParquetWriter | None = None
    for _, path in chunks:
        table = pq.read_table(path).replace_schema_metadata(None)
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema)
        writer.write_table(table)
        yield sink.take()
    if writer is not None:
        writer.close()
    yield sink.take()


FORMAT = InputFormat(
    name="parquet",
    title="Parquet",
    media_types=(
        "application/vnd.apache.parquet",
        "application/x-parquet",
        "application/parquet",
    ),
    suffixes=(".parquet", ".pq"),
    check=check_parquet,
    batches=parquet_batches,
    magic=MAGIC,
    plan=plan_parquet,
    write_results=stream_parquet,
)
