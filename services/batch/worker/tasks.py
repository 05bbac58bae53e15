"""The rq tasks: plain module-level functions with small arguments (a job id and a chunk
index), and the failure callback that fails a job once a task has no retries left."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from loguru import logger
from redis import Redis, RedisError
from rq.exceptions import AbandonedJobError
from rq.job import Job

from services.batch import formats
from services.batch.domain import ACTIVE, BadInput, ChunkSpec, JobState, scoring_uri
from services.batch.metrics import observe_chunk
from services.batch.worker.chunk import run_chunk
from services.batch.worker.context import WorkerContext, context
from services.batch.worker.recording import ChunkRecord
from services.batch.worker.split import split_input
from services.core.model_store import LoadedModel, ModelGone


def score_chunk(job_id: str, index: int) -> dict[str, Any]:
    ctx = context()
    state, spec, id_column = ctx.store.begin(job_id, index)
    if state not in ACTIVE:
        observe_chunk(None, "skipped")
        return {"skipped": state}  # cancelled, failed, or the job is gone
    if spec is None:
        raise RuntimeError(f"job {job_id} has no spec for chunk {index}")
    if ctx.settings.fault_chunk_delay_seconds:
        time.sleep(ctx.settings.fault_chunk_delay_seconds)  # chaos drill only
    uri = ctx.store.scoring_uri(job_id)
    if uri is None:  # the job expired meanwhile
        observe_chunk(None, "skipped")
        return {"skipped": "missing"}
    model = job_model(ctx, job_id, uri)
    if model is None:
        observe_chunk(None, "model_gone")
        return {"failed": "its model version is gone"}
    try:
        summary = run_chunk(
            model,
            spec,
            ctx.storage.job(job_id).result(index),
            id_column,
            ctx.name,
            ctx.settings.fsync_results,
            record=chunk_record(ctx, job_id),
            reasons_k=ctx.settings.reasons_top_k,
        )
    except BadInput as exc:
        observe_chunk(None, "bad_input")
        fail_job(ctx, job_id, exc.as_dict())
        return {"failed": exc.message}
    outcome, final = ctx.store.done(job_id, index, summary, ctx.settings.result_ttl_seconds)
    observe_chunk(summary, "skipped" if summary.skipped else "scored")
    if outcome == "finished":
        closed(ctx, job_id, final)
    return {
        "rows": summary.rows,
        "skipped": summary.skipped,
        "outcome": outcome,
        "seconds": round(summary.seconds, 4),
    }


def job_model(ctx: WorkerContext, job_id: str, uri: str) -> LoadedModel | None:
    """The model version the job pinned at submit (``uri``), from this worker's cache. A
    version that no longer exists fails the job with a report (None): never another
    version. A load that may work later (registry down) raises, and the task is retried."""
    try:
        return ctx.model_for(uri)
    except ModelGone as exc:
        message = (
            f"the model version this job was pinned to at submit ({uri}) can no longer be "
            "loaded, and a job is never scored with another version; submit it again to "
            f"score it with the current model ({exc})"
        )
        fail_job(ctx, job_id, {"message": message, "details": []})
        return None


def chunk_record(ctx: WorkerContext, job_id: str) -> ChunkRecord | None:
    """What the decision record needs of the job (None when the record is off)."""
    if ctx.decisions is None:
        return None
    record = ctx.store.record(job_id) or {}
    return ChunkRecord(
        ctx.decisions,
        job_id,
        float(record.get("created_at") or time.time()),
        record.get("submitted_by") or "",
    )


def split_job(job_id: str) -> dict[str, Any]:
    ctx = context()
    state, _, id_column = ctx.store.begin(job_id, None)
    record = ctx.store.record(job_id)
    if state not in ACTIVE or record is None:
        return {"skipped": state}
    model = job_model(
        ctx, job_id, scoring_uri(record["model_uri"], record.get("model_pinned_uri", ""))
    )
    if model is None:
        return {"failed": "its model version is gone"}
    rows = chunks = 0
    try:
        for spec in _split(ctx, job_id, record, id_column, model):
            state = ctx.store.add_chunks(
                job_id, [spec], partial(ctx.enqueuer.enqueue_chunks, job_id, [spec.index])
            )
            if state not in ACTIVE:  # cancelled (or failed) while splitting: stop reading
                return {"stopped": state}
            rows, chunks = rows + spec.rows, chunks + 1
    except BadInput as exc:
        fail_job(ctx, job_id, exc.as_dict())
        return {"failed": exc.message}
    if not chunks:
        fail_job(ctx, job_id, {"message": "no data rows", "details": []})
        return {"failed": "no data rows"}
    outcome, final = ctx.store.seal(job_id, chunks, rows, ctx.settings.result_ttl_seconds)
    if outcome == "finished":
        closed(ctx, job_id, final)
    return {"chunks": chunks, "rows": rows}


def _split(
    ctx: WorkerContext,
    job_id: str,
    record: dict[str, str],
    id_column: str | None,
    model: LoadedModel,
) -> Iterator[ChunkSpec]:
    return split_input(
        Path(record["source"]),
        formats.by_name(record["format"]),
        ctx.storage.job(job_id),
        int(record["chunk_rows"]),
        model.contract.features,
        id_column,
    )


def fail_job(ctx: WorkerContext, job_id: str, error: dict[str, Any]) -> None:
    ttl = ctx.settings.result_ttl_seconds
    outcome, state = ctx.store.close(job_id, JobState.FAILED, ttl, json.dumps(error))
    if outcome == "closed":
        closed(ctx, job_id, state, error)
        logger.bind(job_id=job_id).error("job failed: {}", error.get("message"))


def closed(
    ctx: WorkerContext, job_id: str, state: str, error: dict[str, Any] | None = None
) -> None:
    """Write the job's ``final.json`` (with the error of a failed job, so a job Redis
    loses later can be restored with its reason)."""
    if state == JobState.FAILED and error is None:  # closed by the row count check
        with contextlib.suppress(RedisError, ValueError):
            error = json.loads((ctx.store.record(job_id) or {}).get("error") or "null")
    extra = {"error": error} if error else None
    ctx.storage.job(job_id).write_final(state, ctx.settings.result_ttl_seconds, extra)
    logger.bind(job_id=job_id).info("job {} {}", job_id, state)


def on_task_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException],
    exc_value: BaseException,
    traceback: TracebackType | None,
) -> None:
    """rq failure callback: once a task has no retries left, fail its job with the reason."""
    what = f"chunk {job.args[1]}" if len(job.args) > 1 else "input split"
    if job.retries_left:
        logger.warning(
            "{} of job {} failed ({}), {} retries left",
            what,
            job.args[0],
            exc_type.__name__,
            job.retries_left,
        )
        return
    reason = (
        "its worker died or stopped sending heartbeats"
        if exc_type is AbandonedJobError
        else f"{exc_type.__name__}: {exc_value}"
    )
    attempts = context().settings.max_retries + 1
    message = f"{what} failed after {attempts} attempt(s); last error: {reason}"
    fail_job(context(), str(job.args[0]), {"message": message, "details": []})
