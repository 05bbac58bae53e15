"""The split task's work: stream an input into part files of exactly ``chunk_rows`` rows.

Any format can be split (``InputFormat.batches``); text formats (CSV, JSON Lines) are
validated here, as they are typed on the way — this is where "abc" in a numeric column is
found, with its row — and written as typed Parquet parts. Memory stays bounded by one
chunk plus one read block. Parts already written by an earlier attempt are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.checks import needed_columns, typed_table
from services.batch.domain import ChunkSpec
from services.batch.formats import InputFormat
from services.batch.state.storage import JobPaths, atomic_write
from services.core.contract import FeatureSpec


def split_input(
    source: Path,
    fmt: InputFormat,
    paths: JobPaths,
    chunk_rows: int,
    features: Sequence[FeatureSpec],
    id_column: str | None,
) -> Iterator[ChunkSpec]:
    """Write parts (skipping those that exist) and yield each part's chunk as it is ready."""
    batches = fmt.batches(source, needed_columns(features, id_column))
    offset = 0
    for index, table in enumerate(rebatch(batches, chunk_rows)):
        part = paths.part(index)
        if not part.exists():
            if fmt.text:
                table = typed_table(table, features, offset)
            write_part(part, table)
        yield ChunkSpec(index, str(part), offset, table.num_rows)
        offset += table.num_rows


def rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup a stream of record batches into tables of exactly ``rows`` rows (the last
    may be shorter), whatever the sizes of the incoming batches."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def write_part(path: Path, table: pa.Table) -> None:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
