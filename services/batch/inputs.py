"""Read and check job inputs (Parquet or CSV) against the model contract.

At submit only what is cheap is checked: the format, the columns and their types, and the
first ``submit_check_rows`` rows (problems → 422). Workers validate every chunk again and
fail the job with a report that names columns and 1-based input rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from services.batch.domain import SourceFormat
from services.core.contract import FeatureSpec
from services.core.validation import Issue, ValidationReport, validate_frame

CSV_BLOCK_BYTES = 4 << 20
PARQUET_MAGIC = b"PAR1"


class BadInput(ValueError):
    """The input cannot be scored; ``details`` name the columns and rows."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "details": self.details}


def report_error(report: ValidationReport, offset: int = 0) -> BadInput:
    """A failed report with its rows made input-wide (chunk row 1 is input row offset+1)."""
    issues = [
        Issue(i.column, i.message, tuple(r + offset for r in i.rows), i.count)
        for i in report.issues
    ]
    first, last = offset + 1, offset + report.n_rows
    text = "; ".join(str(i) for i in issues)
    return BadInput(
        f"input rows {first}-{last} break the model contract: {text}", [i.as_dict() for i in issues]
    )


def check_frame(frame: pd.DataFrame, features: Sequence[FeatureSpec], offset: int = 0) -> None:
    report = validate_frame(frame, features, allow_extra=True)
    if not report.ok:
        raise report_error(report, offset)


def needed_columns(features: Sequence[FeatureSpec], id_column: str | None) -> list[str]:
    """The columns to read, each once (the id column may be a feature, e.g. ``income``)."""
    names = [f.name for f in features]
    return names + ([id_column] if id_column and id_column not in names else [])


def detect_format(path: Path, declared: str | None = None) -> SourceFormat:
    with path.open("rb") as handle:
        head = handle.read(4)
    if not head:
        raise BadInput("empty file: no header and no data rows")
    if head == PARQUET_MAGIC:
        return "parquet"
    if declared == "parquet":
        raise BadInput("not a Parquet file (no PAR1 magic bytes)")
    return "csv"


def schema_problems(
    schema: pa.Schema, features: Sequence[FeatureSpec], id_column: str | None
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for name in needed_columns(features, id_column):
        if schema.get_field_index(name) < 0:
            problems.append({"column": name, "message": "missing column", "rows": [], "count": 0})
    for spec in features:
        index = schema.get_field_index(spec.name)
        kind = schema.field(index).type if index >= 0 else None
        if kind is not None and not _type_fits(spec, kind):
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


def _type_fits(spec: FeatureSpec, kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if spec.is_categorical:
        return (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
        )
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def dictionary_columns(schema: pa.Schema, features: Sequence[FeatureSpec]) -> list[str]:
    """Categorical columns stored as text: read them as dictionaries (fast to encode)."""
    out = []
    for spec in features:
        index = schema.get_field_index(spec.name)
        if spec.is_categorical and index >= 0:
            kind = schema.field(index).type
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                out.append(spec.name)
    return out


def open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInput(f"not a readable Parquet file: {exc}") from exc


def check_parquet(
    path: Path, features: Sequence[FeatureSpec], id_column: str | None, check_rows: int
) -> int:
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
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=options,
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        raise BadInput(f"not a readable CSV file: {exc}") from exc


def check_csv(
    path: Path, features: Sequence[FeatureSpec], id_column: str | None, check_rows: int
) -> None:
    """Check a CSV input's header and first rows (its row count is known after a split)."""
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20))
        header = reader.schema.names
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise BadInput(f"not a readable CSV file: {exc}") from exc
    missing = [c for c in needed_columns(features, id_column) if c not in header]
    if missing:
        found = ", ".join(header[:10])
        raise BadInput(
            f"missing column(s) {', '.join(missing)} (CSV header has: {found})",
            [{"column": c, "message": "missing column", "rows": [], "count": 0} for c in missing],
        )
    first = next(csv_batches(path, needed_columns(features, id_column)), None)
    if first is None or first.num_rows == 0:
        raise BadInput("no data rows")
    check_frame(first.slice(0, check_rows).to_pandas(), features)
