"""``BatchService``: what the job API knows about jobs, without HTTP — status, the recent
list, cancel, results, readiness — and what a submission needs from it (the model version
pinned for it and that version's contract, input paths, saving JSON rows). New jobs are
accepted by ``service.submit``.

``pin_model`` resolves the configured ``model_uri`` (e.g. ``models:/name@champion``) to
the version it names now, once per submission: the job records that version and every
chunk is scored by it, and the submission is checked against its contract (contracts are
kept per version). The service's ``contract`` (the OpenAPI schemas, JSON-row checks) is the
one of the version pinned last, so it follows a promotion without a restart.

A model that could not be pinned at start-up (the registry was down, or the alias not set
yet) is pinned again by the readiness probe, at most once per ``PIN_RETRY_SECONDS``: a pod
that started before MLflow becomes ready once MLflow answers (found on kind, where the
chart starts both at once), instead of staying out of its Service for good.

A job Redis lost is restored from storage when its status is asked for (``record``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.batch import formats
from services.batch.domain import ACTIVE, JobState
from services.batch.formats import ResultFiles
from services.batch.service.results import result_page
from services.batch.service.rows import save_rows
from services.batch.service.views import JobStatus, job_status
from services.batch.settings import BatchSettings
from services.batch.state.backend import Backend
from services.batch.state.jobs import restore
from services.core.contract import ModelContract
from services.core.contract_store import load_contract
from services.core.errors import Conflict, NotFound, Unavailable
from services.core.registry import pin
from services.core.version_cache import VersionCache

CONTRACTS_KEPT = 4  # contracts of recently pinned versions (a few KB each)
PIN_RETRY_SECONDS = 5.0  # readiness probes retry a failed start-up pin at most this often


@dataclass(frozen=True)
class JobModel:
    """The model version a job is pinned to: ``requested`` as configured, ``uri`` the
    concrete version (``models:/name/N``, a runs URI or a folder) its chunks load."""

    requested: str
    name: str
    version: str
    uri: str
    contract: ModelContract


# Status requests waiting for their job to end at once, per API process: each holds one of
# the server's worker threads for up to 30 s, so the rest are answered at once (as with
# ``wait=0``) rather than let long polls take every thread from the other routes.
MAX_WAITERS = 8


class BatchService:
    def __init__(
        self, backend: Backend, contract: ModelContract | None, model_error: str | None = None
    ) -> None:
        self.backend = backend
        self.contract = contract
        self.model_error = model_error
        self._pin_tried = time.monotonic()  # the start-up pin counts as the first try
        self._waiters = threading.BoundedSemaphore(MAX_WAITERS)
        tracking = backend.settings.mlflow_tracking_uri
        self._contracts: VersionCache[ModelContract] = VersionCache(
            lambda uri: load_contract(uri, tracking), CONTRACTS_KEPT
        )

    def pin_model(self) -> JobModel:
        """The version ``model_uri`` names now and its contract (503 if the registry
        cannot tell: nothing is accepted without a version)."""
        requested = self.settings.model_uri
        try:
            pinned = pin(self.settings.mlflow_tracking_uri, requested)
            contract = self._contracts.get(pinned.uri)
        except Exception as exc:
            raise Unavailable(
                f"cannot resolve the model {requested} to a version: {type(exc).__name__}: "
                f"{exc}; nothing was accepted, retry later"
            ) from exc
        self.contract, self.model_error = contract, None
        name = pinned.name or contract.model_name
        return JobModel(requested, name, pinned.version, pinned.uri, contract)

    @property
    def settings(self) -> BatchSettings:
        return self.backend.settings

    def require_contract(self) -> ModelContract:
        if self.contract is None:
            raise Unavailable(f"model not loaded, jobs cannot be checked: {self.model_error}")
        return self.contract

    def ping(self) -> None:
        """Raise ``RedisError`` (→ 503) if the job store does not answer."""
        self.backend.store.ping()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the model contract is loaded and Redis answers; the body says why not."""
        problems: list[str] = []
        if self.contract is None:
            self._retry_pin()
        if self.contract is None:
            problems.append(f"model not loaded: {self.model_error}")
        try:
            self.ping()
        except Exception as exc:
            problems.append(f"Redis unreachable: {exc}")
        body: dict[str, Any] = {
            "status": "not ready" if problems else "ready",
            "problems": problems,
        }
        if self.contract is not None:
            body["model"] = {"name": self.contract.model_name, "uri": self.settings.model_uri}
        return not problems, body

    def _retry_pin(self) -> None:
        now = time.monotonic()
        if now - self._pin_tried < PIN_RETRY_SECONDS:
            return
        self._pin_tried = now
        try:
            self.pin_model()
        except Unavailable as exc:
            self.model_error = exc.message

    def record(self, job_id: str, caller: str | None = None) -> dict[str, str]:
        """The job's record; with ``caller``, only if that key may see it (its own job, or
        an admin key): another key's job is as unknown as a job that never was (404)."""
        record = self.backend.store.record(job_id)
        if record is None and restore(self.backend, job_id):
            record = self.backend.store.record(job_id)
        if record is None or (caller is not None and not self.may_see(caller, record)):
            raise NotFound(f"job {job_id} not found (unknown, or its results expired)")
        return record

    def is_admin(self, caller: str) -> bool:
        return caller in self.settings.admin_ids

    def may_see(self, caller: str, record: dict[str, str]) -> bool:
        return self.is_admin(caller) or record.get("submitted_by", "anonymous") == caller

    @property
    def band_names(self) -> list[str]:
        return [band.name for band in self.contract.risk_bands] if self.contract else []

    def status(self, job_id: str, caller: str | None = None, wait: float = 0.0) -> JobStatus:
        """The job's status; with ``wait`` seconds, once it has ended or the wait is over
        (whichever comes first: a long poll that learns of the end when it happens). With
        ``MAX_WAITERS`` requests already waiting, it answers at once."""
        current = job_status(job_id, self.record(job_id, caller), bands=self.band_names)
        if wait <= 0 or current.state not in ACTIVE:
            return current
        if not self._waiters.acquire(blocking=False):
            return current
        try:
            with self.backend.store.watch_close(job_id) as closed:
                current = self.status(job_id, caller)  # read after subscribing
                if current.state not in ACTIVE or not closed(wait):
                    return current
            return self.status(job_id, caller)
        finally:
            self._waiters.release()

    def cancel(self, job_id: str, caller: str | None = None) -> JobStatus:
        self.record(job_id, caller)
        ttl = self.settings.result_ttl_seconds
        outcome, state = self.backend.store.close(job_id, JobState.CANCELLED, ttl)
        if outcome == "inactive":
            raise Conflict(f"job {job_id} already {state}")
        if outcome == "closed":
            self.backend.storage.job(job_id).write_final(state, ttl)
        return self.status(job_id)

    def recent(self, limit: int, caller: str | None = None) -> list[JobStatus]:
        """The newest ``limit`` jobs ``caller`` may see (all of them without a caller)."""
        owner = None if caller is None or self.is_admin(caller) else caller
        return [
            job_status(job_id, record, bands=self.band_names)
            for job_id, record in self.backend.store.recent(limit, owner)
        ]

    def result_chunks(self, job_id: str, caller: str | None = None) -> ResultFiles:
        """The result files of a succeeded job, in input order."""
        state = self.record(job_id, caller)["state"]
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

    def result_page(
        self, job_id: str, offset: int, limit: int, caller: str | None = None
    ) -> dict[str, Any]:
        return result_page(job_id, self.result_chunks(job_id, caller), offset, limit)

    def download(
        self, job_id: str, format_name: str, caller: str | None = None
    ) -> tuple[str, Iterator[bytes]]:
        """The media type and the streamed bytes of a succeeded job's results."""
        fmt = formats.by_name(format_name)
        if fmt.write_results is None:
            raise ValueError(f"results cannot be written as {fmt.title}")
        return fmt.media_type, fmt.write_results(self.result_chunks(job_id, caller))

    def resolve_input(self, path: str, caller: str | None = None) -> Path | None:
        """The file ``path`` names inside an input folder ``caller`` may read, else None:
        every allowed folder for an admin key or without auth, else the key's own
        ``<folder>/<key id>/`` (relative paths are taken from there)."""
        tenant = None
        if caller is not None and caller != "anonymous" and not self.is_admin(caller):
            tenant = caller
        return self.backend.storage.resolve_input(path, tenant)

    def save_rows(self, rows: list[dict[str, Any]], target: Path, id_column: str | None) -> None:
        """JSON rows, checked in full, as the job's Parquet input."""
        features = self.require_contract().features
        save_rows(rows, target, features, id_column, self.settings.chunk_rows)
