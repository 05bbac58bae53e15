"""The split task's work: stream an input into part files of exactly ``chunk_rows`` rows.

CSV text is validated here (it is typed on the way, so this is where "abc" in a numeric
column is found, with its row) and written as typed Parquet parts. Memory stays bounded
by one chunk plus one read block. Parts already written by an earlier attempt are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.domain import ChunkSpec, SourceFormat
from services.batch.inputs import check_frame, csv_batches, needed_columns, open_parquet
from services.batch.storage import JobPaths, atomic_write
from services.core.contract import FeatureSpec

PARQUET_BATCH_ROWS = 65_536


def split_input(
    source: Path,
    fmt: SourceFormat,
    paths: JobPaths,
    chunk_rows: int,
    features: Sequence[FeatureSpec],
    id_column: str | None,
) -> Iterator[ChunkSpec]:
    """Write parts (skipping those that exist) and yield each part's chunk as it is ready."""
    columns = needed_columns(features, id_column)
    if fmt == "csv":
        batches: Iterable[pa.RecordBatch] = csv_batches(source, columns)
    else:
        batches = open_parquet(source).iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns)
    offset = 0
    for index, table in enumerate(rebatch(batches, chunk_rows)):
        part = paths.part(index)
        if not part.exists():
            if fmt == "csv":
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


def typed_table(table: pa.Table, features: Sequence[FeatureSpec], offset: int) -> pa.Table:
    """Validate CSV text rows and convert numeric features to float64."""
    frame = table.to_pandas()
    check_frame(frame, features, offset)
    for spec in features:
        if not spec.is_categorical:
            frame[spec.name] = pd.to_numeric(frame[spec.name], errors="coerce").astype("float64")
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_part(path: Path, table: pa.Table) -> None:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
