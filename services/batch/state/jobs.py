"""Register jobs with their first tasks, and restore jobs that Redis lost.

Job files on shared storage outlive Redis: a job whose manifest exists, that has no final
state, and that Redis no longer knows (it restarted without persistence) is registered
again from its manifest with every chunk re-queued. Chunks whose result files exist are
skipped by the workers, so a restored job scores only what is missing and ends with every
row exactly once. A job that had already ended gets its final record back from its files
(``recovery``), so its status, results and Idempotency-Key stay until they expire.
Workers restore at start-up and at each maintenance pass; the API restores a job when its
status (or its Idempotency-Key) is asked for.
"""

from __future__ import annotations

from functools import partial

from loguru import logger
from redis import RedisError

from services.batch.domain import BadInput, ChunkSpec, JobState, Manifest
from services.batch.state.backend import Backend
from services.batch.state.recovery import planned, restore_closed


def register(
    backend: Backend, manifest: Manifest, chunks: list[ChunkSpec] | None, recovered: bool = False
) -> str:
    """Create the job and queue its chunk tasks (or its split task); return the owner id."""
    job_id = manifest.job_id
    if chunks is None:
        enqueue = partial(backend.enqueuer.enqueue_split, job_id)
        n_rows = None
    else:
        enqueue = partial(backend.enqueuer.enqueue_chunks, job_id, [c.index for c in chunks])
        n_rows = sum(c.rows for c in chunks)
    return backend.store.create(
        manifest, chunks, n_rows, enqueue, backend.settings.result_ttl_seconds, recovered
    )


def restore(backend: Backend, job_id: str) -> bool:
    """Register a lost job again from its files; False if there is nothing to restore.

    An unfinished job is queued again (chunks already scored are skipped by the
    workers); a finished one gets its final record back (``recovery.restore_closed``)."""
    paths = backend.storage.job(job_id)
    manifest = paths.read_manifest()
    if manifest is None or backend.store.exists(job_id):
        return False
    final = paths.read_final()
    if final is not None:
        return restore_closed(backend.store, paths, manifest, final)
    try:
        chunks = None if manifest.split else planned(manifest)
    except BadInput as exc:  # the input is gone: the job cannot finish, so it failed
        message = (
            f"job was lost from Redis before it ended, and its input {manifest.source} "
            f"can no longer be read: {exc.message}"
        )
        error = {"message": message, "details": []}
        logger.bind(job_id=job_id).error("{}", message)
        paths.write_final(
            JobState.FAILED.value, backend.settings.result_ttl_seconds, {"error": error}
        )
        return restore_closed(backend.store, paths, manifest, paths.read_final() or {})
    register(backend, manifest, chunks, recovered=True)
    done = len(list(paths.results.glob("part-*.parquet")))
    logger.bind(job_id=job_id).warning(
        "job {} was lost from Redis: restored from storage and re-queued ({} chunk results "
        "already on storage are kept)",
        job_id,
        done,
    )
    return True


def restore_all(backend: Backend) -> list[str]:
    """Restore every job on storage that Redis does not know (a job that cannot be
    restored is logged and does not hold up the others)."""
    candidates = [
        job_id
        for job_id in backend.storage.job_ids()
        if backend.storage.job(job_id).manifest.exists()
    ]
    if not candidates:
        return []
    with backend.redis.pipeline(transaction=False) as pipe:
        for job_id in candidates:
            pipe.exists(backend.store.job_key(job_id))
        known = pipe.execute()
    restored = []
    for job_id, exists in zip(candidates, known, strict=True):
        if exists:
            continue
        try:
            if restore(backend, job_id):
                restored.append(job_id)
        except RedisError:
            raise
        except Exception as exc:
            logger.bind(job_id=job_id).error("cannot restore job {}: {}", job_id, exc)
    return restored
