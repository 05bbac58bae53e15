"""What the job API does, without HTTP: submit, status, cancel, list, locate results.

Submission order keeps "accepted" honest: the input is stored and checked, then the job
and its tasks are registered in one Redis transaction, then the manifest is written and
only then does the client get 202. If Redis is unreachable at any step the job folder is
removed and the caller gets 503: nothing half-accepted is left behind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from services.batch.domain import ChunkSpec, JobState, Manifest, SourceKind, now
from services.batch.inputs import BadInput, check_csv, check_parquet, detect_format
from services.batch.jobs import Backend, register, restore
from services.batch.planning import plan_parquet
from services.batch.scoring import RESULT_COLUMNS
from services.batch.settings import BatchSettings
from services.batch.storage import write_json
from services.batch.views import JobStatus, job_status
from services.core.contract import ModelContract
from services.core.web.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    Unavailable,
)


@dataclass(frozen=True)
class Source:
    """An input ready on storage: an upload or JSON rows saved in the job folder, or a
    file named by path."""

    kind: SourceKind
    path: Path
    format: str | None = None  # declared by the client; the file's magic bytes decide
    name: str = ""
    id_column: str | None = None
    fingerprint: str | None = None  # of the submit request (``api.uploads.RequestDigest``)


class BatchService:
    def __init__(
        self, backend: Backend, contract: ModelContract | None, model_error: str | None = None
    ) -> None:
        self.backend = backend
        self.contract = contract
        self.model_error = model_error

    @property
    def settings(self) -> BatchSettings:
        return self.backend.settings

    def require_contract(self) -> ModelContract:
        if self.contract is None:
            raise Unavailable(f"model not loaded, jobs cannot be checked: {self.model_error}")
        return self.contract

    def idempotency_digest(self, key: str | None, caller: str) -> str | None:
        return hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()[:32] if key else None

    def existing(self, digest: str | None) -> JobStatus | None:
        """The job that already holds this idempotency key, if it still exists (asked of
        Redis, then of storage: a job Redis lost is restored by ``status``)."""
        if digest is None:
            return None
        owner = self.backend.store.idempotent(digest) or self.backend.storage.job_for_key(digest)
        try:
            return self.status(owner) if owner else None
        except NotFound:
            return None

    def check_replay(self, owner: str, fingerprint: str) -> None:
        """422 when the job holding an Idempotency-Key was submitted with another request
        (other body or query): the key names one request, not "whatever came first".
        Jobs recorded without a fingerprint are replayed unchecked."""
        stored = self.record(owner).get("request_digest")
        if stored and stored != fingerprint:
            raise IdempotencyKeyReused(
                f"this Idempotency-Key was already used for job {owner} with a different "
                "request (body or query); send the same request to get that job, or a new "
                "key for a new job"
            )

    def submit(self, job_id: str, source: Source, digest: str | None, caller: str) -> JobStatus:
        paths = self.backend.storage.job(job_id)
        try:
            chunks, fmt = self._check(source)
            manifest = Manifest(
                job_id=job_id,
                created_at=now(),
                kind=source.kind,
                format=fmt,
                source=str(source.path),
                name=source.name,
                id_column=source.id_column,
                chunk_rows=self.settings.chunk_rows,
                split=chunks is None,
                model_uri=self.settings.model_uri,
                idempotency=digest,
                request_digest=source.fingerprint,
                submitted_by=caller,
            )
            owner = register(self.backend, manifest, chunks)
        except BadInput as exc:
            paths.remove()
            raise InvalidInput(exc.message, exc.details) from exc
        except BaseException:
            paths.remove()
            raise
        if owner != job_id:
            paths.remove()
            return self.status(owner)
        write_json(paths.manifest, manifest.model_dump())
        if digest:
            self.backend.storage.remember_key(digest, job_id)
        return self.status(job_id)

    def _check(self, source: Source) -> tuple[list[ChunkSpec] | None, str]:
        features = self.require_contract().features
        if source.id_column in RESULT_COLUMNS:
            raise BadInput(f"id column {source.id_column!r} clashes with a result column")
        fmt = detect_format(source.path, source.format)
        check_rows = self.settings.submit_check_rows
        if fmt == "csv":
            check_csv(source.path, features, source.id_column, check_rows)
            return None, fmt
        check_parquet(source.path, features, source.id_column, check_rows)
        return plan_parquet(source.path, self.settings.chunk_rows), fmt

    def record(self, job_id: str) -> dict[str, str]:
        record = self.backend.store.record(job_id)
        if record is None and restore(self.backend, job_id):
            record = self.backend.store.record(job_id)
        if record is None:
            raise NotFound(f"job {job_id} not found (unknown, or its results expired)")
        return record

    @property
    def band_names(self) -> list[str]:
        return [band.name for band in self.contract.risk_bands] if self.contract else []

    def status(self, job_id: str) -> JobStatus:
        return job_status(job_id, self.record(job_id), bands=self.band_names)

    def cancel(self, job_id: str) -> JobStatus:
        self.record(job_id)
        ttl = self.settings.result_ttl_seconds
        outcome, state = self.backend.store.close(job_id, JobState.CANCELLED, ttl)
        if outcome == "inactive":
            raise Conflict(f"job {job_id} already {state}")
        if outcome == "closed":
            self.backend.storage.job(job_id).write_final(state, ttl)
        return self.status(job_id)

    def recent(self, limit: int) -> list[JobStatus]:
        return [
            job_status(job_id, record, bands=self.band_names)
            for job_id, record in self.backend.store.recent(limit)
        ]

    def result_chunks(self, job_id: str) -> list[tuple[ChunkSpec, Path]]:
        """The result files of a succeeded job, in input order."""
        state = self.record(job_id)["state"]
        if state != JobState.SUCCEEDED:
            raise Conflict(f"job {job_id} is {state}: results exist once it has succeeded")
        paths = self.backend.storage.job(job_id)
        chunks = [
            (spec, paths.result(spec.index)) for spec in self.backend.store.chunk_specs(job_id)
        ]
        missing = [spec.index for spec, path in chunks if not path.exists()]
        if missing:
            raise NotFound(f"results of job {job_id} are gone from storage (chunks {missing[:5]})")
        return chunks
