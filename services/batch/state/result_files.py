"""A chunk's result file on shared storage: the scored rows as Parquet, with the chunk's
summary (rows, predicted defaults, band counts, worker, model version) in its metadata, so
a retried chunk whose file exists — or a job restored after Redis lost it — can report it
without scoring again. Written to a temporary name and renamed: never half a file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.domain import ChunkSummary
from services.batch.state.storage import atomic_write

META_KEY = b"creditrisk.batch"
WRITE_BATCH_ROWS = 65_536  # values handed to Parquet's column writers at a time


def write_result(path: Path, result: pa.Table, summary: ChunkSummary, fsync: bool) -> None:
    meta = dict(result.schema.metadata or {})
    meta[META_KEY] = json.dumps(summary.metadata()).encode()
    table = result.replace_schema_metadata(meta)
    atomic_write(path, lambda tmp: write_table(table, tmp), fsync=fsync)


def write_table(table: pa.Table, where: Path | str) -> None:
    """Write results; only the text columns (band, version, reason statements and
    features) are dictionary-encoded (trying it on unique probabilities and row numbers
    costs more than scoring them). Row numbers, consecutive, are delta-encoded (a few bits
    a row instead of eight bytes, and cheaper to write than compressing them). Min/max
    statistics are kept for the other columns (row, probability, prediction, id,
    contributions: what readers filter on); on the text columns they would cost a sixth of
    the write and say nothing useful (the first and last band name in alphabetical
    order). Values go to the column writers ``WRITE_BATCH_ROWS`` at a time rather than
    Arrow's default 1,024: the per-batch work (levels, page-size checks) is paid ~3 times
    per 200,000-row column instead of ~200 (a sixth of writing the ``reason_i`` columns);
    the same values and encodings (a page closes at the first batch boundary past 1 MiB)."""
    texts = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    others = [f.name for f in table.schema if not pa.types.is_dictionary(f.type)]
    row = table.schema.field("row") if "row" in table.schema.names else None
    delta = {"row": "DELTA_BINARY_PACKED"} if row and pa.types.is_integer(row.type) else None
    pq.write_table(
        table,
        where,
        use_dictionary=texts or False,
        column_encoding=delta,
        write_statistics=others or False,
        write_batch_size=WRITE_BATCH_ROWS,
    )


def read_summary(path: Path) -> ChunkSummary:
    meta = pq.read_schema(path).metadata or {}
    data = json.loads(meta[META_KEY])
    return ChunkSummary(
        data["rows"],
        data["positives"],
        data["bands"],
        data.get("worker", ""),
        data.get("model_version", ""),
        skipped=True,
    )
