"""The decision record of batch rows: one decision per scored row, keyed ``job:row``.

A chunk's decisions are handed to the writer and flushed (written, or spooled during an
outage) *before* its result file is written: a chunk whose result exists has its record,
and a chunk scored again after its worker died inserts nothing twice (same keys, same
partition: the job's submission day; ``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from services.core.decisions.record import (
    Decision,
    ModelIdentity,
    batch_decision_id,
    job_day,
    now,
)
from services.core.decisions.writer import DecisionWriter
from services.core.model_store import LoadedModel

TRACK = "batch"


class RecordNotFlushed(RuntimeError):
    """The chunk's decisions are not yet written or spooled: the chunk is retried."""


@dataclass(frozen=True)
class ChunkRecord:
    writer: DecisionWriter
    job_id: str
    created_at: float  # the job's submission time (Unix seconds): its partition day
    caller: str
    flush_seconds: float = 120.0


def chunk_decisions(
    model: LoadedModel, job: ChunkRecord, frame: pd.DataFrame, result: pa.Table
) -> list[Decision]:
    at = now()
    day = job_day(job.created_at)
    identity = ModelIdentity(model.name, model.version, TRACK)
    threshold = model.contract.threshold
    inputs: list[dict[str, Any]] = (
        frame.astype(object).where(frame.notna(), None).to_dict("records")
    )
    rows = result.column("row").to_pylist()
    proba = result.column("probability").to_pylist()
    labels = result.column("prediction").to_pylist()
    bands = result.column("risk_band").to_pylist()
    return [
        Decision(
            decision_id=batch_decision_id(job.job_id, row),
            decided_at=at,
            day=day,
            model=identity,
            inputs=values,
            probability=p,
            prediction=label,
            risk_band=band,
            threshold=threshold,
            caller=job.caller,
            job_id=job.job_id,
            row_index=row,
        )
        for values, row, p, label, band in zip(inputs, rows, proba, labels, bands, strict=True)
    ]


def record_chunk(
    model: LoadedModel, job: ChunkRecord, frame: pd.DataFrame, result: pa.Table
) -> None:
    job.writer.submit(chunk_decisions(model, job, frame, result))
    if not job.writer.flush(job.flush_seconds):
        raise RecordNotFlushed(f"decisions of job {job.job_id} not written in time")
