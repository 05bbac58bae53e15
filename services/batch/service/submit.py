"""Accept a job: the whole submit flow, without HTTP.

``accept`` runs it for a request: Redis is pinged first (503 before a large body is read);
with an Idempotency-Key the job already holding it answers (if the request is the same,
else 422 ``idempotency_key_reused``); otherwise the model version is pinned (the configured
alias resolved now: ``BatchService.pin_model``; 503 if the registry cannot tell), the
input is stored (the job folder is removed if that fails), checked and registered
(``register_source``), and a concurrent twin with the same key that won the race is
checked like a replay.

``register_source`` keeps "accepted" honest: the input is checked against the pinned
version's contract, then the job (with its version) and its tasks are registered in one
Redis transaction, then the manifest is written and only then does the caller get the
status. If Redis is unreachable at any step the job folder is
removed and the caller gets 503: nothing half-accepted is left behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

import anyio.to_thread

from services.batch import formats
from services.batch.domain import (
    RESULT_COLUMNS,
    BadInput,
    ChunkSpec,
    Manifest,
    SourceKind,
    new_job_id,
    now,
)
from services.batch.service.batch_service import BatchService, JobModel
from services.batch.service.views import JobStatus
from services.batch.sizing import chunk_rows_for
from services.batch.state.jobs import register
from services.batch.state.storage import JobPaths, write_json
from services.core.errors import IdempotencyKeyReused, InvalidInput, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """An input ready on storage: an upload or JSON rows saved in the job folder, or a
    file named by path."""

    kind: SourceKind
    path: Path
    format: str | None = None  # declared by the client; magic bytes overrule it
    name: str = ""
    id_column: str | None = None
    fingerprint: str | None = None  # of the submit request (``Submission.fingerprint``)


class Submission(Protocol):
    """A submit request as its transport hands it over (``api.uploads.HttpSubmission``)."""

    async def fingerprint(self) -> str:
        """What defines the request — media type, options, body — storing nothing."""

    async def store(self, paths: JobPaths) -> Source:
        """Save the input in the job folder (or name a file on storage); the source
        carries the request's fingerprint."""


@dataclass(frozen=True)
class Submitted:
    status: JobStatus
    replayed: bool  # the job of an Idempotency-Key sent again, not a new one


async def _in_thread(call: Callable[..., T], *args: object) -> T:
    return await anyio.to_thread.run_sync(partial(call, *args))


async def accept(
    service: BatchService, submission: Submission, caller: str, idempotency_key: str | None
) -> Submitted:
    service.require_contract()
    await _in_thread(service.ping)
    digest = idempotency_digest(idempotency_key, caller)
    existing = await _in_thread(key_holder, service, digest)
    if existing is not None:  # the same request again gets its job; another one a 422
        await _in_thread(check_replay, service, existing.job_id, await submission.fingerprint())
        return Submitted(existing, replayed=True)
    model = await _in_thread(service.pin_model)  # before the input: JSON rows use its contract
    job_id = new_job_id()
    paths = service.backend.storage.job(job_id)
    try:
        source = await submission.store(paths)
    except BaseException:
        paths.remove()
        raise
    status = await _in_thread(register_source, service, job_id, source, digest, caller, model)
    if status.job_id != job_id:  # a concurrent submit with the same key won
        assert source.fingerprint is not None
        await _in_thread(check_replay, service, status.job_id, source.fingerprint)
    return Submitted(status, replayed=status.job_id != job_id)


def idempotency_digest(key: str | None, caller: str) -> str | None:
    """An Idempotency-Key belongs to its caller: the same key from another is another key."""
    return hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()[:32] if key else None


def key_holder(service: BatchService, digest: str | None) -> JobStatus | None:
    """The job that already holds this idempotency key, if it still exists (asked of
    Redis, then of storage: a job Redis lost is restored by ``status``)."""
    if digest is None:
        return None
    backend = service.backend
    owner = backend.store.idempotent(digest) or backend.storage.job_for_key(digest)
    try:
        return service.status(owner) if owner else None
    except NotFound:
        return None


def check_replay(service: BatchService, owner: str, fingerprint: str) -> None:
    """422 when the job holding an Idempotency-Key was submitted with another request
    (other body or query): the key names one request, not "whatever came first".
    Jobs recorded without a fingerprint are replayed unchecked."""
    stored = service.record(owner).get("request_digest")
    if stored and stored != fingerprint:
        raise IdempotencyKeyReused(
            f"this Idempotency-Key was already used for job {owner} with a different "
            "request (body or query); send the same request to get that job, or a new "
            "key for a new job"
        )


def register_source(
    service: BatchService,
    job_id: str,
    source: Source,
    digest: str | None,
    caller: str,
    model: JobModel | None = None,
) -> JobStatus:
    """Check and register the job, pinned to ``model`` (resolved now if not given)."""
    backend = service.backend
    paths = backend.storage.job(job_id)
    try:
        model = model or service.pin_model()
        chunks, fmt, chunk_rows = plan_source(service, source, model)
        manifest = Manifest(
            job_id=job_id,
            created_at=now(),
            kind=source.kind,
            format=fmt,
            source=str(source.path),
            name=source.name,
            id_column=source.id_column,
            chunk_rows=chunk_rows,
            split=chunks is None,
            model_uri=model.requested,
            model_name=model.name,
            model_version=model.version,
            model_pinned_uri=model.uri,
            idempotency=digest,
            request_digest=source.fingerprint,
            submitted_by=caller,
        )
        owner = register(backend, manifest, chunks)
    except BadInput as exc:
        paths.remove()
        raise InvalidInput(exc.message, exc.details) from exc
    except BaseException:
        paths.remove()
        raise
    if owner != job_id:
        paths.remove()
        return service.status(owner)
    write_json(paths.manifest, manifest.model_dump())
    if digest:
        backend.storage.remember_key(digest, job_id)
    return service.status(job_id)


def plan_source(
    service: BatchService, source: Source, model: JobModel
) -> tuple[list[ChunkSpec] | None, str, int]:
    """Check the input against the pinned version's contract; its chunks if it is scored
    in place (else None: it is split), the name of its format and its rows per chunk
    (``chunk_rows_for``: longer chunks for a long input whose row count is known)."""
    features = model.contract.features
    if source.id_column in RESULT_COLUMNS:
        raise BadInput(f"id column {source.id_column!r} clashes with a result column")
    fmt = formats.detect(source.path, source.format)
    settings = service.settings
    total = fmt.check(source.path, features, source.id_column, settings.submit_check_rows)
    rows = chunk_rows_for(total, settings.chunk_rows, settings.max_chunk_rows, settings.min_chunks)
    return fmt.plan(source.path, rows), fmt.name, rows
