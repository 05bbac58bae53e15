"""Read a job's results from its per-chunk files, in input order, without assembling them.

A JSON page reads only the chunks it overlaps. Downloads stream one chunk at a time in a
format that can write results (``InputFormat.write_results``: CSV, Parquet).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.formats import ResultFiles
from services.core.reason_layout import with_null_reasons


def page(chunks: ResultFiles, offset: int, limit: int) -> list[dict[str, Any]]:
    """Result rows ``offset .. offset + limit - 1`` (0-based) as dicts."""
    tables = []
    end = offset + limit
    for spec, path in chunks:
        if spec.offset + spec.rows <= offset or spec.offset >= end:
            continue
        table = with_null_reasons(pq.read_table(path))  # null, not "" / NaN
        start = max(offset - spec.offset, 0)
        tables.append(table.slice(start, min(end, spec.offset + spec.rows) - spec.offset - start))
    if not tables:
        return []
    rows: list[dict[str, Any]] = pa.concat_tables(tables).to_pylist()
    return rows


def result_page(job_id: str, chunks: ResultFiles, offset: int, limit: int) -> dict[str, Any]:
    """A page of rows with the total and where the next page starts (None: none left)."""
    total = sum(spec.rows for spec, _ in chunks)
    rows = page(chunks, offset, limit)
    following = offset + len(rows)
    return {
        "job_id": job_id,
        "offset": offset,
        "limit": limit,
        "total": total,
        "next_offset": following if following < total else None,
        "rows": rows,
    }
