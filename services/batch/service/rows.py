"""JSON rows submitted in the request body → a typed Parquet input in the job folder.

They are checked in full first (422 naming columns and rows); the file's row groups are
chunks, so the job is scored in place like any Parquet input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.checks import check_frame
from services.batch.state.storage import atomic_write
from services.core.contract import FeatureSpec
from services.core.errors import InvalidInput


def save_rows(
    rows: list[dict[str, Any]],
    target: Path,
    features: Sequence[FeatureSpec],
    id_column: str | None,
    chunk_rows: int,
) -> None:
    frame = pd.DataFrame.from_records(rows)
    if id_column and id_column not in frame.columns:
        raise InvalidInput(f"id column {id_column!r} is not in the rows")
    check_frame(frame, features)  # BadInput → 422 with rows
    data = {
        f.name: (
            frame[f.name].astype("string")
            if f.is_categorical
            else pd.to_numeric(frame[f.name]).astype("float64")
        )
        for f in features
    }
    if id_column:
        column = frame[id_column]
        data[id_column] = column.astype("string") if column.dtype == object else column
    table = pa.Table.from_pandas(pd.DataFrame(data), preserve_index=False)
    atomic_write(target, lambda tmp: pq.write_table(table, tmp, row_group_size=chunk_rows))
