"""A block of decisions held column-wise (a batch chunk's): the rows ``to_row`` would give
for each of its decisions, built and written without a Python object per row.

The batch worker builds one per chunk (``services.batch.worker.record_block``) with the
canonical inputs text and the reasons text already made per column; the writer thread
applies the privacy setting (``table``) and the store COPYs it as one CSV buffer. During an
outage a block is spooled as ordinary rows (``rows``): the spool and its replay are shared
with per-decision writes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from services.core.decisions.digests import hmac_sha256_hex
from services.core.decisions.record import COLUMNS, InputsMode, ModelIdentity, Row


@dataclass(frozen=True)
class DecisionBlock:
    """Batch decisions of one job sharing day, time, model, caller and threshold."""

    job_id: str
    day: date
    decided_at: datetime
    model: ModelIdentity
    caller: str
    threshold: float
    row_index: pa.Array  # int64, 1-based input rows
    probability: pa.Array  # float64
    prediction: pa.Array  # integers
    risk_band: pa.Array  # strings
    inputs: pa.Array  # canonical inputs text (``record.canonical_inputs``), per row
    reasons: pa.Array  # reasons JSON text, per row

    def __len__(self) -> int:
        return len(self.row_index)

    def _inputs(self, mode: InputsMode, salt: str) -> tuple[pa.Array, pa.Array]:
        n = len(self)
        if mode is InputsMode.VALUES:
            return self.inputs, pa.nulls(n, pa.string())
        return pa.nulls(n, pa.string()), hmac_sha256_hex(self.inputs, salt)

    def table(self, mode: InputsMode, salt: str = "") -> pa.Table:
        """The rows in ``COLUMNS`` order as text columns (null: SQL NULL), ready for CSV."""
        n = len(self)
        rows = pc.cast(self.row_index, pa.string())
        inputs, digest = self._inputs(mode, salt)

        def const(value: str | None) -> pa.Array:
            return pa.nulls(n, pa.string()) if value is None else pa.repeat(pa.scalar(value), n)

        # float text: Python's repr (the shortest text that reads back as the same double)
        probability = pa.array(
            list(map(float.__repr__, self.probability.to_numpy(zero_copy_only=False).tolist())),
            pa.string(),
        )
        columns = [
            const(self.day.isoformat()),
            pc.binary_join_element_wise(f"job:{self.job_id}:", rows, ""),
            const(self.decided_at.isoformat()),
            const(None),
            const(None),
            const(self.job_id),
            rows,
            const(self.caller),
            const(self.model.name),
            const(self.model.version),
            const(self.model.track),
            inputs,
            digest,
            probability,
            pc.cast(self.prediction, pa.string()),
            pc.cast(self.risk_band, pa.string()),
            const(repr(float(self.threshold))),
            self.reasons,
            const(None),
        ]
        return pa.Table.from_arrays(columns, names=list(COLUMNS))

    def csv(self, mode: InputsMode, salt: str = "") -> bytes:
        """The rows as CSV (no header; null fields empty and unquoted, strings quoted)."""
        out = io.BytesIO()
        pcsv.write_csv(self.table(mode, salt), out, pcsv.WriteOptions(include_header=False))
        return out.getvalue()

    def rows(self, mode: InputsMode, salt: str = "") -> list[Row]:
        """The same rows as ``to_row`` tuples (for the spool)."""
        table = self.table(mode, salt)
        out: list[Row] = []
        columns = {name: table.column(name).to_pylist() for name in COLUMNS}
        for i in range(len(self)):
            row = [columns[name][i] for name in COLUMNS]
            row[0], row[2] = self.day, self.decided_at
            row[6] = int(row[6])
            row[13], row[14], row[16] = float(row[13]), int(row[14]), float(row[16])
            out.append(tuple(row))
        return out
