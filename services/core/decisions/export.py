"""Export recorded decisions to Parquet or CSV (``python -m services.core.decisions``).

Rows are streamed from a server-side cursor and written in slices, so a month of
decisions does not have to fit in memory. One column per stored field; ``inputs``,
``reasons`` and ``baseline`` stay JSON text (a CSV cell, a Parquet string; ``baseline`` is
empty unless a paired pod decided), ready for a notice or an examiner's tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.core.decisions.record import COLUMNS

SLICE_ROWS = 50_000
FIELDS = [c for c in COLUMNS if c != "day"]
SCHEMA = pa.schema(
    [
        ("decision_id", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("request_id", pa.string()),
        ("item", pa.int32()),
        ("job_id", pa.string()),
        ("row_index", pa.int64()),
        ("caller", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("track", pa.string()),
        ("inputs", pa.string()),
        ("inputs_hash", pa.string()),
        ("probability", pa.float64()),
        ("prediction", pa.int8()),
        ("risk_band", pa.string()),
        ("threshold", pa.float64()),
        ("reasons", pa.string()),
        ("baseline", pa.string()),
    ]
)


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _slices(rows: Iterable[dict[str, Any]]) -> Iterator[pa.RecordBatch]:
    it = iter(rows)
    while chunk := list(islice(it, SLICE_ROWS)):
        columns = {name: [r[name] for r in chunk] for name in FIELDS}
        for name in ("inputs", "reasons", "baseline"):
            columns[name] = [_json_text(v) for v in columns[name]]
        yield pa.RecordBatch.from_pydict(columns, schema=SCHEMA)


def write_export(rows: Iterable[dict[str, Any]], out: Path, fmt: str) -> int:
    """Write ``rows`` (stored rows, column → value) to ``out``; the number written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    written = 0
    writer: pq.ParquetWriter | pacsv.CSVWriter
    if fmt == "parquet":
        writer = pq.ParquetWriter(tmp, SCHEMA)
    elif fmt == "csv":
        writer = pacsv.CSVWriter(tmp, SCHEMA)
    else:
        raise ValueError(f"unknown format {fmt!r} (parquet or csv)")
    try:
        with writer:
            for batch in _slices(rows):
                writer.write_batch(batch)
                written += batch.num_rows
            if not written:
                writer.write_batch(pa.RecordBatch.from_pylist([], schema=SCHEMA))
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed export leaves only the earlier file, if any
        raise
    tmp.replace(out)
    return written


def parse_when(text: str, end: bool = False) -> datetime:
    """A date (``2026-03-01``: midnight UTC; as ``--until`` it includes that whole day) or
    an ISO 8601 timestamp (UTC unless it says otherwise)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if end and _bare_date(text):  # up to the end of that day
        value += timedelta(days=1)
    return value


def _bare_date(text: str) -> bool:
    """A date without a time, in any ISO 8601 form (``2026-03-01``, ``20260301``)."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
