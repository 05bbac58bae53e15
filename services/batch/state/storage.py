"""Where a job's files live on shared storage, and how they are written safely.

``<storage_dir>/jobs/<job_id>/``: ``job.json`` (the manifest, written once the job is
queued), ``input.*`` (an uploaded or JSON input), ``parts/`` (chunks a split task cut from
a text input or huge row groups), ``results/part-NNNNNN.parquet`` (one file per chunk, in
input order) and ``final.json`` (the final state, the error of a failed job, and when the
results expire).
``<storage_dir>/idempotency/<digest>`` names the job that holds an Idempotency-Key, so the
key survives Redis losing its data. Every file is written to a temporary name and
renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.batch.domain import Manifest, is_job_id

DIGEST = re.compile(r"^[0-9a-f]{32}$")  # an Idempotency-Key digest (see BatchService)
ORPHAN_SECONDS = 86_400  # a job folder without manifest (an aborted submit) is removed after
REMOVING = ".removing"  # suffix of a job folder being deleted (JobPaths.remove), hidden


def atomic_write(target: Path, write: Callable[[Path], object], fsync: bool = False) -> Path:
    """Call ``write(tmp)`` and rename ``tmp`` to ``target`` (same folder, so atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        if fsync:
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_json(target: Path, data: Any) -> Path:
    return atomic_write(target, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))


class JobPaths:
    def __init__(self, root: Path, job_id: str) -> None:
        if not is_job_id(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        self.job_id = job_id
        self.dir = root / "jobs" / job_id
        self.manifest = self.dir / "job.json"
        self.final = self.dir / "final.json"
        self.parts = self.dir / "parts"
        self.results = self.dir / "results"

    def input(self, suffix: str) -> Path:
        return self.dir / f"input.{suffix}"

    def part(self, index: int) -> Path:
        return self.parts / f"part-{index:06d}.parquet"

    def result(self, index: int) -> Path:
        return self.results / f"part-{index:06d}.parquet"

    def read_manifest(self) -> Manifest | None:
        if not self.manifest.exists():
            return None
        return Manifest.model_validate_json(self.manifest.read_text())

    def read_final(self) -> dict[str, Any] | None:
        return json.loads(self.final.read_text()) if self.final.exists() else None

    def write_final(self, state: str, ttl: int, extra: dict[str, Any] | None = None) -> None:
        finished = time.time()
        write_json(
            self.final,
            {
                "state": state,
                "finished_at": finished,
                "expires_at": finished + ttl,
                **(extra or {}),
            },
        )

    def remove(self) -> None:
        """Delete the job's folder, first renamed out of the jobs listing (one atomic
        rename): the restore of lost jobs, which may run in another process, then sees the
        whole job or none of it, never a manifest whose final record was deleted a moment
        before (it would take the job for one lost before it ended and fail it again)."""
        doomed = self.dir.with_name(f".{self.dir.name}{REMOVING}")
        try:
            self.dir.rename(doomed)
        except OSError:  # gone already, or the rename refused: delete it where it is
            doomed = self.dir
        shutil.rmtree(doomed, ignore_errors=True)


class Storage:
    def __init__(self, root: Path, input_dirs: list[Path] | None = None) -> None:
        self.root = root
        self.jobs_dir = root / "jobs"
        self.inputs_dir = root / "inputs"
        self.keys_dir = root / "idempotency"
        self.input_dirs = [d.resolve() for d in (input_dirs or [self.inputs_dir])]
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.inputs_dir.mkdir(parents=True, exist_ok=True)
        self.keys_dir.mkdir(parents=True, exist_ok=True)

    def job(self, job_id: str) -> JobPaths:
        return JobPaths(self.root, job_id)

    def job_ids(self) -> list[str]:
        return sorted(p.name for p in self.jobs_dir.iterdir() if is_job_id(p.name))

    def key_file(self, digest: str) -> Path:
        if not DIGEST.match(digest):
            raise ValueError(f"not an idempotency digest: {digest!r}")
        return self.keys_dir / digest

    def remember_key(self, digest: str, job_id: str) -> None:
        """Record that ``job_id`` holds the Idempotency-Key with this digest."""
        atomic_write(self.key_file(digest), lambda tmp: tmp.write_text(job_id))

    def job_for_key(self, digest: str) -> str | None:
        """The job that holds the Idempotency-Key with this digest, as storage knows it."""
        try:
            text = self.key_file(digest).read_text().strip()
        except FileNotFoundError:
            return None
        return text if is_job_id(text) else None

    def _forget_key(self, paths: JobPaths) -> None:
        manifest = paths.read_manifest()
        digest = manifest.idempotency if manifest else None
        if digest and self.job_for_key(digest) == paths.job_id:
            self.key_file(digest).unlink(missing_ok=True)

    def resolve_input(self, path: str, tenant: str | None = None) -> Path | None:
        """The file ``path`` names if it lies inside an allowed input folder (with
        ``tenant``: inside that key's ``<folder>/<tenant>/``), else None."""
        given = Path(path)
        dirs = self.input_dirs if tenant is None else [d / tenant for d in self.input_dirs]
        candidates = [given] if given.is_absolute() else [d / given for d in dirs]
        for candidate in candidates:
            try:
                resolved = candidate.resolve()
                if any(resolved.is_relative_to(d) for d in dirs) and resolved.is_file():
                    return resolved
            # NUL byte, unencodable text, name too long, a symlink loop (RuntimeError before
            # Python 3.13), ...
            except (OSError, ValueError, RuntimeError):
                continue
        return None

    def purge_expired(self, now: float | None = None) -> list[str]:
        """Delete jobs whose results expired, and folders of submits that never completed."""
        now = now or time.time()
        for left in self.jobs_dir.glob(f".*{REMOVING}"):  # a removal cut short by a crash
            shutil.rmtree(left, ignore_errors=True)
        removed = []
        for job_id in self.job_ids():
            paths = self.job(job_id)
            try:
                final = paths.read_final()
                stale = paths.dir.stat().st_mtime < now - ORPHAN_SECONDS
            except (OSError, ValueError):
                continue
            expired = final is not None and final.get("expires_at", now + 1) <= now
            if expired or (final is None and not paths.manifest.exists() and stale):
                if expired:
                    with contextlib.suppress(OSError, ValueError):
                        self._forget_key(paths)
                paths.remove()
                removed.append(job_id)
        return removed
