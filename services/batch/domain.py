"""The batch vocabulary: job states, chunk specs, chunk summaries, the job manifest, and
``BadInput`` (an input that cannot be scored)."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
# an id column sits after row; model_version names the version that scored the row
RESULT_COLUMNS = ("row", "probability", "prediction", "risk_band", "model_version")


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})


class BadInput(ValueError):
    """The input cannot be scored; ``details`` name the columns and rows."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "details": self.details}


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_job_id(text: str) -> bool:
    return bool(JOB_ID.match(text))


@dataclass(frozen=True)
class ChunkSpec:
    """Rows ``offset + 1 .. offset + rows`` of a job (1-based), read from a Parquet file:
    row groups ``[row_groups[0], row_groups[1])`` of ``path``, or all of it."""

    index: int
    path: str
    offset: int
    rows: int
    row_groups: tuple[int, int] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ChunkSpec:
        data = json.loads(text)
        groups = data.pop("row_groups")
        return cls(**data, row_groups=tuple(groups) if groups else None)


@dataclass
class ChunkSummary:
    """What one scored chunk contributes to its job's progress and summary."""

    rows: int
    positives: int
    bands: dict[str, int] = field(default_factory=dict)
    worker: str = ""
    model_version: str = ""
    seconds: float = 0.0
    skipped: bool = False  # the result existed already (a retry): nothing was scored

    def metadata(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "positives": self.positives,
            "bands": self.bands,
            "worker": self.worker,
            "model_version": self.model_version,
        }


@dataclass
class ClosedJob:
    """A finished job as its files on storage tell it (``final.json`` and the summaries
    of its result files): what is needed to give Redis its record back."""

    state: str
    finished_at: float
    error: dict[str, Any] | None = None
    summaries: list[ChunkSummary] = field(default_factory=list)

    def fields(self) -> dict[str, str | int | float]:
        """Record fields over the new-job ones: final state, progress, summary, error."""
        out: dict[str, str | int | float] = {
            "state": self.state,
            "finished_at": self.finished_at,
            "chunks_done": len(self.summaries),
            "rows_done": sum(s.rows for s in self.summaries),
            "positives": sum(s.positives for s in self.summaries),
        }
        for summary in self.summaries:
            out[f"model:{summary.model_version}"] = 1
            for band, count in summary.bands.items():
                key = f"band:{band}"
                out[key] = int(out.get(key, 0)) + count
        if self.error:
            out["error"] = json.dumps(self.error)
        return out


SourceKind = Literal["json", "upload", "path"]


class Manifest(BaseModel):
    """A submitted job as kept on shared storage: enough to re-plan it if Redis loses it."""

    job_id: str
    created_at: float
    kind: SourceKind
    format: str  # the name of its input format (``services.batch.formats``)
    source: str  # input file path
    name: str = ""  # what the client called it (upload file name or path)
    id_column: str | None = None
    chunk_rows: int
    split: bool  # chunks are parts written by a split task (else row groups of the source)
    model_uri: str  # as configured at submit (e.g. models:/name@champion)
    # what it named at submit, pinned for the whole job (empty in manifests written before
    # pinning: such a job is scored with whatever model_uri names when its chunks run)
    model_name: str = ""
    model_version: str = ""
    model_pinned_uri: str = ""
    idempotency: str | None = None  # digest of the Idempotency-Key (and caller)
    request_digest: str | None = None  # fingerprint of the submit request (body + query)
    submitted_by: str = "anonymous"


def scoring_uri(model_uri: str, pinned_uri: str) -> str:
    """The URI a job's chunks load: the version pinned at submit, if one was."""
    return pinned_uri or model_uri


def now() -> float:
    return time.time()
