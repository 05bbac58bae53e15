"""Cut a job into chunks.

A Parquet input whose row groups are at most twice the chunk size is used in place: a
chunk is a run of whole row groups of about ``chunk_rows`` rows, read straight from the
file by the worker (no copy). Anything else (CSV, Parquet with huge row groups) is split
by a task into part files of exactly ``chunk_rows`` rows, each queued as soon as written.
The plan depends only on the file and ``chunk_rows``, so it can be rebuilt identically.
"""

from __future__ import annotations

from pathlib import Path

from services.batch.domain import ChunkSpec
from services.batch.inputs import open_parquet

MAX_GROUP_FACTOR = 2  # a row group up to this many chunks long is scored as one chunk


def plan_parquet(path: Path, chunk_rows: int) -> list[ChunkSpec] | None:
    """Chunks of whole row groups, or None when a row group is too big (split instead)."""
    meta = open_parquet(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    if any(size > MAX_GROUP_FACTOR * chunk_rows for size in sizes):
        return None
    chunks: list[ChunkSpec] = []
    start, offset, rows = 0, 0, 0
    for group, size in enumerate(sizes):
        if rows and rows + size > chunk_rows:
            chunks.append(ChunkSpec(len(chunks), str(path), offset, rows, (start, group)))
            start, offset, rows = group, offset + rows, 0
        rows += size
    if rows:
        chunks.append(ChunkSpec(len(chunks), str(path), offset, rows, (start, len(sizes))))
    return chunks
