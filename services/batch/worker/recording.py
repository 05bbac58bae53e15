"""The decision record of batch rows: one decision per scored row.

By default (``DECISIONS_BATCH_LAYOUT=chunk``) a scored chunk is recorded as one row of the
chunk table, keyed ``(day, job, first row)``, its decisions in one compressed columnar
document (``chunk_codec``); with ``row``, as one row per decision keyed ``job:row`` (built
column-wise by ``record_block``). Either way the chunk's record is handed to the writer and
flushed (written, or spooled during an outage) *before* its result file is published: the
file is written under a hidden name while the record is stored, and renamed into place only
after (``publish_recorded``). A chunk whose result exists has its record, and a chunk scored
again after its worker died inserts nothing twice (same keys, same partition: the job's
submission day; ``ON CONFLICT DO NOTHING``). ``chunk_decisions`` is the per-row reference.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from services.batch.worker.record_block import chunk_block
from services.core.decisions.chunk_codec import RowGroups, chunk_document
from services.core.decisions.record import (
    BatchHeader,
    BatchLayout,
    Decision,
    ModelIdentity,
    batch_decision_id,
    job_day,
    now,
)
from services.core.decisions.writer import DecisionWriter
from services.core.model_store import LoadedModel
from services.core.reason_layout import reason_count, with_null_reasons

TRACK = "batch"
BLOCK_ROWS = 25_000  # rows per written block (one COPY, one transaction)


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
    reasons = row_reasons(inputs, result)
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
            reasons=why,
        )
        for values, row, p, label, band, why in zip(
            inputs, rows, proba, labels, bands, reasons, strict=True
        )
    ]


def row_reasons(inputs: list[dict[str, Any]], result: pa.Table) -> list[list[dict[str, Any]]]:
    """Each row's reason codes from the result's ``reason_i`` columns (statement, feature,
    contribution; ``BATCH_REASONS_TOP_K`` of them, none when it is 0), in the shape of
    ``services.core.reasons.Reason.to_dict`` with the row's input value."""
    result = with_null_reasons(result)  # "" / NaN: no reason (reason_layout)
    k = reason_count(result)
    per_row: list[list[dict[str, Any]]] = [[] for _ in range(result.num_rows)]
    for i in range(1, k + 1):
        statements = result.column(f"reason_{i}").to_pylist()
        features = result.column(f"reason_{i}_feature").to_pylist()
        contributions = result.column(f"reason_{i}_contribution").to_pylist()
        for row, (text, feature, weight) in enumerate(
            zip(statements, features, contributions, strict=True)
        ):
            if feature is not None:
                per_row[row].append(
                    {
                        "feature": feature,
                        "value": inputs[row].get(feature),
                        "contribution": weight,
                        "statement": text,
                    }
                )
    return per_row


def header(model: LoadedModel, job: ChunkRecord) -> BatchHeader:
    identity = ModelIdentity(model.name, model.version, TRACK)
    return BatchHeader(identity, model.contract.threshold, job.job_id, job.created_at, job.caller)


_encoder: tuple[int, ThreadPoolExecutor] | None = None


def _encoder_thread() -> ThreadPoolExecutor:
    """The thread that builds chunk documents off the scoring thread: Arrow's IPC writer
    (zstd), hashing and PostgreSQL (another process) release the GIL, so a document is
    built and inserted while the worker's thread writes the chunk's result file. One per
    process (made again in a forked child, where the parent's thread does not exist)."""
    global _encoder
    if _encoder is None or _encoder[0] != os.getpid():
        _encoder = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="decision-chunk"))
    return _encoder[1]


@dataclass(frozen=True)
class PendingRecord:
    """A chunk's record handed over: ``wait`` returns once it is committed (or spooled
    during an outage); it raises what building the document raised, or
    ``RecordNotFlushed`` if the writer did not get it stored in time."""

    job: ChunkRecord
    built: Future[None] | None = None  # the document being built and handed to the writer

    def wait(self) -> None:
        if self.built is not None:
            self.built.result()
        if not self.job.writer.flush(self.job.flush_seconds):
            raise RecordNotFlushed(f"decisions of job {self.job.job_id} not written in time")


def submit_record(
    model: LoadedModel,
    job: ChunkRecord,
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    chunk_index: int = 0,
    *,
    groups: RowGroups | None = None,
) -> PendingRecord:
    """Hand the chunk's decisions to the writer without waiting for them.

    ``chunk`` layout: one document, built on the encoder thread straight from the chunk's
    Arrow columns (the privacy setting applies there), then one row. ``row`` layout: blocks
    of ``BLOCK_ROWS`` built here, column-wise (the rows ``chunk_decisions`` + ``to_row``
    give); the writer thread COPYs one while this thread builds the next. Each is its own
    idempotent transaction; ``PendingRecord.wait`` waits for all of them. ``groups``: the
    scoring's (``score_grouped``), from which the document stores the outcome and reasons
    once per group (format 4, when they reproduce ``result``); the row layout ignores them."""
    writer = job.writer
    names = [f.name for f in model.contract.features]
    if writer.settings.batch_layout is BatchLayout.CHUNK:
        features = inputs[names] if isinstance(inputs, pd.DataFrame) else inputs.select(names)
        head, mode, salt = header(model, job), writer.settings.inputs, writer.salt

        def build() -> None:
            doc = chunk_document(head, chunk_index, features, result, mode, salt, groups=groups)
            writer.submit_chunk(doc)

        return PendingRecord(job, _encoder_thread().submit(build))
    frame = inputs[names] if isinstance(inputs, pd.DataFrame) else inputs.select(names).to_pandas()
    _submit_blocks(model, job, frame, result)
    return PendingRecord(job)


def record_chunk(
    model: LoadedModel,
    job: ChunkRecord,
    inputs: pa.Table | pd.DataFrame,
    result: pa.Table,
    chunk_index: int = 0,
) -> None:
    """Hand the chunk's decisions to the writer and wait until they are written or spooled."""
    submit_record(model, job, inputs, result, chunk_index).wait()


def publish_recorded(pending: PendingRecord, target: Path, write: Callable[[Path], object]) -> None:
    """Publish a chunk's result file only once its record is committed (or spooled), the
    record's insert overlapping the file's write: ``write`` makes the file under a hidden
    name beside ``target`` (no reader lists it: results are ``part-*.parquet``) while the
    writer thread and PostgreSQL store the record; then ``pending.wait()``, then the file is
    renamed into place. Killed before the rename, the chunk has no result file and is
    scored again (its record, if committed, is not inserted twice)."""
    staged = target.with_name(f".{target.name}.recording")
    try:
        write(staged)
        pending.wait()
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)


def _submit_blocks(
    model: LoadedModel, job: ChunkRecord, frame: pd.DataFrame, result: pa.Table
) -> None:
    head = header(model, job)
    for start in range(0, len(frame), BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, len(frame))
        job.writer.submit_block(
            chunk_block(head, frame.iloc[start:stop], result.slice(start, stop - start))
        )
