"""Job state in Redis: one hash per job, its done-chunk set and chunk specs, an index of
recent jobs, idempotency keys and global counters. State changes are the Lua scripts in
``lua.py``; a job is created together with its queue tasks in one MULTI/EXEC, so a job is
either fully queued or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from redis import Redis, WatchError
from redis.client import Pipeline

from services.batch.domain import (
    ChunkSpec,
    ChunkSummary,
    ClosedJob,
    JobState,
    Manifest,
    now,
    scoring_uri,
)
from services.batch.state import lua

RECENT_JOBS = 1000  # the job index keeps this many most recent jobs


class RedisJobStore:
    def __init__(self, redis: Redis, prefix: str = "batch") -> None:
        self.redis = redis
        self.prefix = prefix
        self._begin = redis.register_script(lua.BEGIN)
        self._done = redis.register_script(lua.DONE)
        self._seal = redis.register_script(lua.SEAL)
        self._close = redis.register_script(lua.CLOSE)

    def job_key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def _keys(self, job_id: str) -> list[str]:
        job = self.job_key(job_id)
        return [job, f"{job}:done", f"{job}:chunks", f"{self.prefix}:stats"]

    @property
    def index_key(self) -> str:
        return f"{self.prefix}:jobs"

    def idempotency_key(self, digest: str) -> str:
        return f"{self.prefix}:idem:{digest}"

    def ping(self) -> None:
        self.redis.ping()

    def exists(self, job_id: str) -> bool:
        return bool(self.redis.exists(self.job_key(job_id)))

    def idempotent(self, digest: str) -> str | None:
        value = self.redis.get(self.idempotency_key(digest))
        return value.decode() if isinstance(value, bytes) else value

    def create(
        self,
        manifest: Manifest,
        chunks: list[ChunkSpec] | None,
        n_rows: int | None,
        enqueue: Callable[[Pipeline], object],
        ttl: int,
        recovered: bool = False,
    ) -> str:
        """Register a job and queue its first tasks atomically; return the id of the job
        that now holds the idempotency key (another job's id if a twin request won)."""
        keys = self._keys(manifest.job_id)
        idem = self.idempotency_key(manifest.idempotency) if manifest.idempotency else None
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(keys[0], *([idem] if idem else []))
                    raw = pipe.get(idem) if idem else None
                    owner = _text(raw) if raw else None
                    if owner and owner != manifest.job_id:
                        return owner
                    if pipe.exists(keys[0]):
                        return manifest.job_id
                    pipe.multi()
                    self._create(pipe, keys, manifest, chunks, n_rows, recovered)
                    if idem:
                        pipe.set(idem, manifest.job_id, ex=ttl)
                    enqueue(pipe)
                    pipe.execute()
                    return manifest.job_id
                except WatchError:
                    continue

    def _create(
        self,
        pipe: Pipeline,
        keys: list[str],
        m: Manifest,
        chunks: list[ChunkSpec] | None,
        n_rows: int | None,
        recovered: bool,
    ) -> None:
        pipe.hset(keys[0], mapping=_fields(m, chunks, n_rows, recovered))  # type: ignore[arg-type]
        if chunks:
            pipe.hset(keys[2], mapping={str(c.index): c.to_json() for c in chunks})
        pipe.zadd(self.index_key, {m.job_id: m.created_at})
        pipe.zremrangebyrank(self.index_key, 0, -RECENT_JOBS - 1)
        if not recovered:
            pipe.hincrby(keys[3], "entered:queued", 1)

    def restore_closed(
        self, m: Manifest, closed: ClosedJob, chunks: list[ChunkSpec] | None, ttl: int
    ) -> None:
        """Write back, in one MULTI/EXEC, the record of a job that had finished before
        Redis lost it: final state, error, and the chunks and counts of its results. Its
        keys expire when its results do; its idempotency key is set unless another job
        holds it."""
        keys = self._keys(m.job_id)
        n_rows = sum(c.rows for c in chunks) if chunks is not None else None
        fields = {**_fields(m, chunks, n_rows, recovered=True), **closed.fields()}
        with self.redis.pipeline() as pipe:
            pipe.hset(keys[0], mapping=fields)  # type: ignore[arg-type]
            if chunks:
                pipe.hset(keys[2], mapping={str(c.index): c.to_json() for c in chunks})
                pipe.sadd(keys[1], *(c.index for c in chunks))
            for key in keys[:3]:
                pipe.expire(key, ttl)
            pipe.zadd(self.index_key, {m.job_id: m.created_at})
            pipe.zremrangebyrank(self.index_key, 0, -RECENT_JOBS - 1)
            if m.idempotency:
                pipe.set(self.idempotency_key(m.idempotency), m.job_id, ex=ttl, nx=True)
            pipe.execute()

    @contextmanager
    def watch_close(self, job_id: str) -> Iterator[Callable[[float], bool]]:
        """Listen for the job being closed (the scripts publish it); yields
        ``wait(seconds)``, True once the close is heard. Read the job's state inside the
        block, after subscribing, so a close in between is not missed."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(f"{self.job_key(job_id)}:closed")

            def wait(seconds: float) -> bool:
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    if pubsub.get_message(timeout=left) is not None:
                        return True
                return False

            yield wait
        finally:
            pubsub.close()

    def begin(self, job_id: str, index: int | None) -> tuple[str, ChunkSpec | None, str | None]:
        """Mark the job running; return its state, the chunk's spec and the id column."""
        arg = "" if index is None else str(index)
        state, spec, id_column = (_text(v) for v in self._begin(self._keys(job_id), [arg, now()]))
        return state, ChunkSpec.from_json(spec) if spec else None, id_column or None

    def add_chunks(
        self, job_id: str, chunks: list[ChunkSpec], enqueue: Callable[[Pipeline], object]
    ) -> str:
        """Record and queue chunks a split task cut; return the job's state."""
        with self.redis.pipeline() as pipe:
            pipe.hset(self._keys(job_id)[2], mapping={str(c.index): c.to_json() for c in chunks})
            enqueue(pipe)
            pipe.hget(self.job_key(job_id), "state")
            state = pipe.execute()[-1]
        return _text(state) if state else "missing"

    def done(self, job_id: str, index: int, summary: ChunkSummary, ttl: int) -> tuple[str, str]:
        bands = [x for name, n in summary.bands.items() for x in (name, n)]
        args = [index, summary.rows, summary.positives, now(), ttl, summary.model_version, *bands]
        return _pair(self._done(self._keys(job_id), args))

    def seal(self, job_id: str, n_chunks: int, n_rows: int, ttl: int) -> tuple[str, str]:
        return _pair(self._seal(self._keys(job_id), [n_chunks, n_rows, now(), ttl]))

    def close(self, job_id: str, state: JobState, ttl: int, error: str = "") -> tuple[str, str]:
        return _pair(self._close(self._keys(job_id), [state.value, now(), ttl, error]))

    def record(self, job_id: str) -> dict[str, str] | None:
        raw = self.redis.hgetall(self.job_key(job_id))
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    def scoring_uri(self, job_id: str) -> str | None:
        """The model URI the job's chunks are scored with (pinned at submit); None if the
        job is gone."""
        configured, pinned = self.redis.hmget(self.job_key(job_id), "model_uri", "model_pinned_uri")
        if configured is None:
            return None
        return scoring_uri(_text(configured), _text(pinned) if pinned else "")

    def chunk_specs(self, job_id: str) -> list[ChunkSpec]:
        raw = self.redis.hgetall(self._keys(job_id)[2])
        return sorted((ChunkSpec.from_json(v) for v in raw.values()), key=lambda c: c.index)

    def recent(self, limit: int, owner: str | None = None) -> list[tuple[str, dict[str, str]]]:
        """The newest ``limit`` jobs, newest first; with ``owner``, only that key's (the
        index is read page by page until enough are found: it holds unexpired jobs only)."""
        found: list[tuple[str, dict[str, str]]] = []
        start, page = 0, max(limit, 200) if owner else limit
        while len(found) < limit:
            ids = [_text(i) for i in self.redis.zrevrange(self.index_key, start, start + page - 1)]
            if not ids:
                break
            start += page
            with self.redis.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hgetall(self.job_key(job_id))
                raws = pipe.execute()
            gone = [job_id for job_id, raw in zip(ids, raws, strict=True) if not raw]
            if gone:
                self.redis.zrem(self.index_key, *gone)
                start -= len(gone)
            for job_id, raw in zip(ids, raws, strict=True):
                record = {_text(k): _text(v) for k, v in raw.items()}
                if raw and (owner is None or record.get("submitted_by", "anonymous") == owner):
                    found.append((job_id, record))
            if owner is None:
                break
        return found[:limit]

    def stats(self) -> dict[str, int]:
        return {_text(k): int(v) for k, v in self.redis.hgetall(f"{self.prefix}:stats").items()}


def _fields(
    m: Manifest, chunks: list[ChunkSpec] | None, n_rows: int | None, recovered: bool
) -> dict[str, str | int | float]:
    """A new job record: what the manifest says, nothing done yet."""
    return {
        "state": JobState.QUEUED.value,
        "created_at": m.created_at,
        "kind": m.kind,
        "format": m.format,
        "source": m.source,
        "name": m.name,
        "id_column": m.id_column or "",
        "chunk_rows": m.chunk_rows,
        "model_uri": m.model_uri,
        "model_name": m.model_name,
        "model_version": m.model_version,
        "model_pinned_uri": m.model_pinned_uri,
        "submitted_by": m.submitted_by,
        "request_digest": m.request_digest or "",
        "planned": int(chunks is not None),
        "n_chunks": len(chunks or []),
        "n_rows": n_rows if n_rows is not None else -1,
        "chunks_done": 0,
        "rows_done": 0,
        "positives": 0,
        "recovered": int(recovered),
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pair(reply: Any) -> tuple[str, str]:
    return _text(reply[0]), _text(reply[1])
