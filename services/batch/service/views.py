"""A job's public status, computed from its Redis record: progress, rate, ETA, summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from services.batch.domain import JobState, now


class JobError(BaseModel):
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class JobModelView(BaseModel):
    """The model version the job is pinned to: resolved once, at submit, and used for
    every row (a promotion during the job does not change it)."""

    name: str = Field(description="registered model name (or the contract's, for a folder)")
    version: str = Field(description="registry version, or `run` / `local` outside the registry")
    uri: str = Field(description="the concrete model URI every chunk is scored with")
    requested: str = Field(description="the model URI configured at submit, e.g. an alias")


class JobSummary(BaseModel):
    """Figures over all scored rows (once the job succeeded)."""

    rows: int
    predicted_defaults: int
    predicted_default_rate: float
    risk_bands: dict[str, int]
    model_versions: list[str] = Field(
        description="versions that scored the rows: exactly the pinned one"
    )


class JobStatus(BaseModel):
    job_id: str
    state: JobState
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    source: dict[str, str]
    model: JobModelView | None = Field(
        None, description="the pinned model version (absent for jobs submitted before pinning)"
    )
    rows_total: int | None = Field(None, description="input rows (unknown while a CSV is split)")
    rows_done: int = 0
    chunks_total: int | None = None
    chunks_done: int = 0
    progress: float | None = Field(None, description="rows done / rows total, 0..1")
    rows_per_second: float | None = None
    eta_seconds: float | None = None
    error: JobError | None = None
    summary: JobSummary | None = None
    links: dict[str, str] = Field(default_factory=dict)


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    return datetime.fromtimestamp(float(value), UTC).isoformat(timespec="milliseconds")


def job_status(
    job_id: str, record: dict[str, str], at: float | None = None, bands: list[str] | None = None
) -> JobStatus:
    state = JobState(record["state"])
    planned = record.get("planned") == "1"
    rows_total = int(record["n_rows"]) if planned else None
    rows_done = int(record.get("rows_done", 0))
    started = float(record["started_at"]) if record.get("started_at") else None
    end = float(record["finished_at"]) if record.get("finished_at") else (at or now())
    rate = rows_done / (end - started) if started and rows_done and end > started else None
    eta = None
    if rate and rows_total is not None and not state.is_final:
        eta = (rows_total - rows_done) / rate
    base = f"/api/v1/jobs/{job_id}"
    return JobStatus(
        job_id=job_id,
        state=state,
        created_at=_iso(record["created_at"]) or "",
        started_at=_iso(record.get("started_at")),
        finished_at=_iso(record.get("finished_at")),
        source={
            "kind": record.get("kind", ""),
            "format": record.get("format", ""),
            "name": record.get("name", ""),
        },
        model=_model(record),
        rows_total=rows_total,
        rows_done=rows_done,
        chunks_total=int(record["n_chunks"]) if planned else None,
        chunks_done=int(record.get("chunks_done", 0)),
        progress=rows_done / rows_total if rows_total else None,
        rows_per_second=round(rate, 1) if rate else None,
        eta_seconds=round(eta, 1) if eta is not None else None,
        error=JobError(**json.loads(record["error"])) if record.get("error") else None,
        summary=_summary(record, bands or []) if state is JobState.SUCCEEDED else None,
        links={"self": base, "results": f"{base}/results", "cancel": f"{base}/cancel"},
    )


def _model(record: dict[str, str]) -> JobModelView | None:
    if not record.get("model_pinned_uri"):
        return None
    return JobModelView(
        name=record.get("model_name", ""),
        version=record.get("model_version", ""),
        uri=record["model_pinned_uri"],
        requested=record.get("model_uri", ""),
    )


def _summary(record: dict[str, str], order: list[str]) -> JobSummary:
    """``order``: the contract's band names, so counts list from low to high risk."""
    rows = int(record.get("rows_done", 0))
    positives = int(record.get("positives", 0))
    counts = {k.split(":", 1)[1]: int(v) for k, v in record.items() if k.startswith("band:")}
    rank = {name: i for i, name in enumerate(order)}
    bands = dict(sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))
    models = sorted(k.split(":", 1)[1] for k in record if k.startswith("model:"))
    return JobSummary(
        rows=rows,
        predicted_defaults=positives,
        predicted_default_rate=positives / rows if rows else 0.0,
        risk_bands=bands,
        model_versions=models,
    )
