"""Batch job documents for tests that write a job's files by hand."""

from __future__ import annotations

from services.batch.domain import Manifest


def job_manifest(
    job_id: str,
    *,
    split: bool = True,
    idempotency: str | None = None,
    kind: str = "upload",
    source: str = "input.csv",
    chunk_rows: int = 4,
) -> Manifest:
    """A CSV job's manifest, created at t = 1 s, scored by model ``m``."""
    return Manifest(
        job_id=job_id,
        created_at=1.0,
        kind=kind,
        format="csv",
        source=source,
        chunk_rows=chunk_rows,
        split=split,
        model_uri="m",
        idempotency=idempotency,
    )
