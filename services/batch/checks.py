"""Check input rows against the model contract, whatever format they came in.

At submit only what is cheap is checked: the format, the columns and their types, and the
first ``submit_check_rows`` rows (problems → 422). Workers validate every chunk again and
fail the job with a report that names columns and 1-based input rows. Reading a format is
its own module's business (``services.batch.formats``); these checks are shared.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from services.batch.domain import BadInput
from services.core.contract import FeatureSpec
from services.core.validation import Issue, ValidationReport, validate_frame


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


def missing_columns(missing: Sequence[str], found: Sequence[str], where: str) -> BadInput:
    """Bad input naming the missing columns and the first ten found ``where``."""
    return BadInput(
        f"missing column(s) {', '.join(missing)} ({where}: {', '.join(found[:10])})",
        [{"column": c, "message": "missing column", "rows": [], "count": 0} for c in missing],
    )


def typed_table(table: pa.Table, features: Sequence[FeatureSpec], offset: int) -> pa.Table:
    """Validate rows read as text (CSV, JSON Lines) and convert numeric features to
    float64; ``offset`` makes the reported rows input-wide."""
    frame = table.to_pandas()
    check_frame(frame, features, offset)
    for spec in features:
        if not spec.is_categorical:
            frame[spec.name] = pd.to_numeric(frame[spec.name], errors="coerce").astype("float64")
    return pa.Table.from_pandas(frame, preserve_index=False)


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
