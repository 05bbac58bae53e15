"""Give Redis back the record of a job that had finished before Redis lost its data.

A finished job lives on storage: ``final.json`` (state, error, when its results expire),
the manifest and, for a succeeded job, one result file per chunk carrying its summary.
Without its Redis record the job would read as unknown (404) with its results still on
storage, and its Idempotency-Key would be free for a duplicate. Restoring it rebuilds the
chunk plan the workers scored (the source's row groups, or the parts a split task cut)
and checks every chunk's result against it, so a job is restored as succeeded only when
every row is there exactly once; otherwise it is restored as failed and says why.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from loguru import logger

from services.batch import formats
from services.batch.domain import (
    BadInput,
    ChunkSpec,
    ChunkSummary,
    ClosedJob,
    JobState,
    Manifest,
)
from services.batch.state.result_files import read_summary
from services.batch.state.storage import JobPaths
from services.batch.state.store import RedisJobStore

MIN_TTL_SECONDS = 2  # a job this close to expiry is left to the purge, not restored


class IncompleteResults(Exception):
    """The result files on storage do not cover the job's input exactly once."""


def restore_closed(
    store: RedisJobStore, paths: JobPaths, manifest: Manifest, final: dict[str, Any]
) -> bool:
    """Register a finished job again from storage; False if its results have expired."""
    ttl = int(float(final.get("expires_at", 0)) - time.time())
    if ttl < MIN_TTL_SECONDS:
        return False
    closed = ClosedJob(str(final["state"]), float(final["finished_at"]), final.get("error"))
    chunks: list[ChunkSpec] | None = None
    if closed.state == JobState.SUCCEEDED:
        try:
            chunks, closed.summaries = scored_chunks(manifest, paths)
        except IncompleteResults as exc:
            message = f"job had succeeded, but its results on storage are incomplete: {exc}"
            closed = ClosedJob(JobState.FAILED.value, closed.finished_at, {"message": message})
    elif closed.state == JobState.FAILED and not closed.error:
        closed.error = {"message": "job failed; its error report was lost with Redis's data"}
    store.restore_closed(manifest, closed, chunks, ttl)
    logger.bind(job_id=manifest.job_id).warning(
        "job {} ({}) was lost from Redis after it ended: restored from storage",
        manifest.job_id,
        closed.state,
    )
    return True


def scored_chunks(
    manifest: Manifest, paths: JobPaths
) -> tuple[list[ChunkSpec], list[ChunkSummary]]:
    """The job's chunks and the summary of each one's result, checked against each other."""
    chunks = planned_chunks(manifest, paths)
    summaries = []
    for spec in chunks:
        result = paths.result(spec.index)
        if not result.exists():
            raise IncompleteResults(f"the result of chunk {spec.index} is missing")
        summary = read_summary(result)
        if summary.rows != spec.rows:
            raise IncompleteResults(
                f"chunk {spec.index} has {summary.rows} result rows for {spec.rows} input rows"
            )
        summaries.append(summary)
    return chunks, summaries


def planned_chunks(manifest: Manifest, paths: JobPaths) -> list[ChunkSpec]:
    """The chunks the workers scored: the source's row groups, or the split's parts."""
    try:
        if not manifest.split:
            chunks = planned(manifest)
            if chunks is None:
                raise IncompleteResults("its input changed since it was scored")
            return chunks
        return split_parts(paths)
    except (BadInput, OSError, pa.ArrowException) as exc:
        raise IncompleteResults(f"its input cannot be read again ({exc})") from exc


def planned(manifest: Manifest) -> list[ChunkSpec] | None:
    """The chunks read in place from the job's input, as at submit (None: it is split)."""
    return formats.by_name(manifest.format).plan(Path(manifest.source), manifest.chunk_rows)


def split_parts(paths: JobPaths) -> list[ChunkSpec]:
    chunks: list[ChunkSpec] = []
    offset = 0
    for index, part in enumerate(sorted(paths.parts.glob("part-*.parquet"))):
        if part != paths.part(index):
            raise IncompleteResults(f"input part {index} is missing")
        rows = pq.read_metadata(part).num_rows
        chunks.append(ChunkSpec(index, str(part), offset, rows))
        offset += rows
    if not chunks:
        raise IncompleteResults("its input parts are gone")
    return chunks
