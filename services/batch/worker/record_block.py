"""A chunk's decisions as one ``DecisionBlock``: the rows ``chunk_decisions`` + ``to_row``
give, built per column (no ``Decision`` and no ``json.dumps`` per row; the texts come from
``services.core.decisions.texts``).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.core.decisions.block import DecisionBlock
from services.core.decisions.record import BatchHeader, now
from services.core.decisions.texts import (
    _plain_strings,
    inputs_texts,
    reasons_texts,
    value_texts,
)
from services.core.reason_layout import with_null_reasons

__all__ = ["chunk_block"]


def chunk_block(header: BatchHeader, frame: pd.DataFrame, result: pa.Table) -> DecisionBlock:
    """The chunk's decisions as ``chunk_decisions`` would make them, column-wise."""
    result = with_null_reasons(result)
    values = {str(c): value_texts(frame[c]) for c in frame.columns}
    return DecisionBlock(
        job_id=header.job_id,
        day=header.day,
        decided_at=now(),
        model=header.model,
        caller=header.caller,
        threshold=float(header.threshold),
        row_index=result.column("row").combine_chunks(),
        probability=pc.cast(result.column("probability").combine_chunks(), pa.float64()),
        prediction=result.column("prediction").combine_chunks(),
        risk_band=_plain_strings(result.column("risk_band")),
        inputs=inputs_texts(frame, values),
        reasons=reasons_texts(values, result),
    )
