"""Register jobs with their first tasks, and restore jobs that Redis lost.

Job files on shared storage outlive Redis: a job whose manifest exists, that has no final
state, and that Redis no longer knows (it restarted without persistence) is registered
again from its manifest with every chunk re-queued. Chunks whose result files exist are
skipped by the workers, so a restored job scores only what is missing and ends with every
row exactly once. Workers restore at start-up and at each maintenance pass; the API
restores a job when its status is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from loguru import logger
from redis import Redis

from services.batch.domain import ChunkSpec, Manifest
from services.batch.planning import plan_parquet
from services.batch.queueing import Enqueuer
from services.batch.settings import BatchSettings
from services.batch.storage import Storage
from services.batch.store import RedisJobStore


@dataclass(frozen=True)
class Backend:
    """What the API, the workers and the CLI share: job state, storage and the queue."""

    settings: BatchSettings
    redis: Redis
    store: RedisJobStore
    storage: Storage
    enqueuer: Enqueuer

    @property
    def target(self) -> str:
        """``host:port`` of Redis, for messages (the URL may hold a password)."""
        kwargs = self.redis.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"

    @classmethod
    def connect(cls, settings: BatchSettings, redis: Redis | None = None) -> Backend:
        timeout = settings.redis_timeout_seconds
        redis = redis or Redis.from_url(
            settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        return cls(
            settings,
            redis,
            RedisJobStore(redis, settings.key_prefix),
            Storage(settings.storage_dir, settings.allowed_input_dirs),
            Enqueuer(redis, settings),
        )


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
    """Register a lost job again from its manifest; False if there is nothing to restore."""
    paths = backend.storage.job(job_id)
    manifest = paths.read_manifest()
    if manifest is None or paths.final.exists() or backend.store.exists(job_id):
        return False
    chunks = None if manifest.split else plan_parquet(Path(manifest.source), manifest.chunk_rows)
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
    """Restore every unfinished job on storage that Redis does not know."""
    candidates = []
    for job_id in backend.storage.job_ids():
        paths = backend.storage.job(job_id)
        if paths.manifest.exists() and not paths.final.exists():
            candidates.append(job_id)
    if not candidates:
        return []
    with backend.redis.pipeline(transaction=False) as pipe:
        for job_id in candidates:
            pipe.exists(backend.store.job_key(job_id))
        known = pipe.execute()
    return [
        job_id
        for job_id, exists in zip(candidates, known, strict=True)
        if not exists and restore(backend, job_id)
    ]
