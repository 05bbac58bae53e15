"""Serve a job's results from its per-chunk files, in input order, without assembling them.

Downloads stream one chunk at a time (bounded memory): Parquet as one file with a row
group per chunk, CSV with one header. A JSON page reads only the chunks it overlaps.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.batch.domain import ChunkSpec

Chunks = list[tuple[ChunkSpec, Path]]


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


def stream_parquet(chunks: Chunks) -> Iterator[bytes]:
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


def stream_csv(chunks: Chunks) -> Iterator[bytes]:
    for n, (_, path) in enumerate(chunks):
        sink = io.BytesIO()
        pacsv.write_csv(pq.read_table(path), sink, pacsv.WriteOptions(include_header=n == 0))
        yield sink.getvalue()


def page(chunks: Chunks, offset: int, limit: int) -> list[dict[str, Any]]:
    """Result rows ``offset .. offset + limit - 1`` (0-based) as dicts."""
    tables = []
    end = offset + limit
    for spec, path in chunks:
        if spec.offset + spec.rows <= offset or spec.offset >= end:
            continue
        table = pq.read_table(path)
        start = max(offset - spec.offset, 0)
        tables.append(table.slice(start, min(end, spec.offset + spec.rows) - spec.offset - start))
    if not tables:
        return []
    rows: list[dict[str, Any]] = pa.concat_tables(tables).to_pylist()
    return rows
