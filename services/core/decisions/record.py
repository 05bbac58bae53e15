"""A decision and the table row it becomes (pure: no I/O, no database driver).

The request path builds a ``Decision`` from values it already has (a dataclass, no
formatting); the writer thread turns it into a row with ``to_row``, where the privacy
setting applies: the input values themselves, or an HMAC-SHA-256 of them under a secret
salt (the same inputs give the same digest, so an examiner holding the application can
prove which record it is without the record holding the application).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

# the table's columns, in the order ``to_row`` returns them (and COPY writes them)
COLUMNS = (
    "day",
    "decision_id",
    "decided_at",
    "request_id",
    "item",
    "job_id",
    "row_index",
    "caller",
    "model_name",
    "model_version",
    "track",
    "inputs",
    "inputs_hash",
    "probability",
    "prediction",
    "risk_band",
    "threshold",
    "reasons",
    "baseline",
)
Row = tuple[Any, ...]


class InputsMode(StrEnum):
    VALUES = "values"  # the validated input values, as JSON
    HASH = "hash"  # only an HMAC-SHA-256 of them (salted)


class BatchLayout(StrEnum):
    CHUNK = "chunk"  # one row per scored chunk, its decisions in one document
    ROW = "row"  # one row per decision, like online decisions


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    name: str
    version: str
    track: str = "stable"


@dataclass(frozen=True, slots=True)
class BaselineAnswer:
    """What the baseline model (a paired pod's stable version) answered for the same
    applicant: recorded next to the served answer, never returned to the client."""

    version: str
    probability: float
    prediction: int
    band: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "probability": float(self.probability),
                "prediction": int(self.prediction),
                "band": self.band,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """One scored applicant. ``decision_id`` is the idempotency key: unique per online
    decision (a fresh id), ``job:row`` for a batch row, so re-scoring a chunk after a
    worker died inserts nothing twice. ``day`` is the partition: the decision's day online,
    the job's submission day in batch (stable across retries)."""

    decision_id: str
    decided_at: datetime
    day: date
    model: ModelIdentity
    inputs: Mapping[str, Any]
    probability: float
    prediction: int
    risk_band: str
    threshold: float
    caller: str = ""
    request_id: str | None = None
    item: int | None = None  # position in a bulk request (0 for /predict)
    job_id: str | None = None
    row_index: int | None = None  # 1-based input row of a batch job
    reasons: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    baseline: BaselineAnswer | None = None  # a paired pod's baseline answer, else None


def now() -> datetime:
    return datetime.now(UTC)


def online_decision_id(nonce: str, item: int) -> str:
    """Online key: the request id is the client's (it may be reused), so the key is a
    per-request nonce and the item's position; a replay of a spooled batch repeats it."""
    return f"req:{nonce}:{item}"


def batch_decision_id(job_id: str, row_index: int) -> str:
    return f"job:{job_id}:{row_index}"


def job_day(created_at: float) -> date:
    """A batch job's partition day: its submission time (Unix seconds, UTC)."""
    return datetime.fromtimestamp(created_at, UTC).date()


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """What every decision of one batch chunk shares: the model that scored it, the
    threshold it was cut at, the job, its submission time (Unix seconds: the partition
    day) and its submitter."""

    model: ModelIdentity
    threshold: float
    job_id: str
    created_at: float
    caller: str

    @property
    def day(self) -> date:
        return job_day(self.created_at)


def _plain(value: Any) -> Any:
    """JSON-safe input value (NaN is not JSON: a missing value is null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    return value


def canonical_inputs(inputs: Mapping[str, Any]) -> str:
    """The inputs as compact JSON with sorted keys: the same values, the same text."""
    return json.dumps(
        {str(k): _plain(v) for k, v in inputs.items()},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )


def inputs_digest(inputs: Mapping[str, Any], salt: str) -> str:
    """HMAC-SHA-256 (hex) of the canonical inputs under ``salt``."""
    return hmac.new(salt.encode(), canonical_inputs(inputs).encode(), hashlib.sha256).hexdigest()


def to_row(decision: Decision, mode: InputsMode, salt: str = "") -> Row:
    """The table row of ``decision``, in ``COLUMNS`` order (JSON columns as text)."""
    if mode is InputsMode.VALUES:
        inputs, digest = canonical_inputs(decision.inputs), None
    else:
        inputs, digest = None, inputs_digest(decision.inputs, salt)
    reasons = json.dumps([dict(r) for r in decision.reasons], separators=(",", ":"))
    return (
        decision.day,
        decision.decision_id,
        decision.decided_at,
        decision.request_id,
        decision.item,
        decision.job_id,
        decision.row_index,
        decision.caller,
        decision.model.name,
        decision.model.version,
        decision.model.track,
        inputs,
        digest,
        float(decision.probability),
        int(decision.prediction),
        decision.risk_band,
        float(decision.threshold),
        reasons,
        None if decision.baseline is None else decision.baseline.to_json(),
    )


def row_to_json(row: Row) -> list[Any]:
    """A row as JSON values (for the spool): dates as ISO text."""
    return [v.isoformat() if isinstance(v, date | datetime) else v for v in row]


def row_from_json(values: Sequence[Any]) -> Row:
    """The inverse of ``row_to_json``. A row spooled before a column was added (a shorter
    row: columns are only ever appended) gets null for it."""
    out = list(values)
    out += [None] * (len(COLUMNS) - len(out))
    out[0] = date.fromisoformat(out[0])
    out[2] = datetime.fromisoformat(out[2])
    return tuple(out)


def as_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (column → value) as the JSON document the API and the export show."""
    doc = {k: row[k] for k in COLUMNS if k != "day"}
    doc["decided_at"] = row["decided_at"].isoformat()
    for key in ("inputs", "reasons", "baseline"):
        if isinstance(doc[key], str):
            doc[key] = json.loads(doc[key])
    return doc
