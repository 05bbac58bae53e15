"""A batch chunk recorded as one row (``DECISIONS_BATCH_LAYOUT=chunk``): what the chunk
table stores about a scored chunk, and its key (pure: no pyarrow, no database driver).

The chunk's per-row decisions are the ``payload``: a compressed columnar document built and
read by ``chunk_codec`` (batch workers and look-ups; pyarrow). The row is self-contained:
the result files of the job may be deleted, the record does not depend on them. Its key is
``(day, job_id, first_row)``: the same chunk scored again (a worker SIGKILLed after recording
it, a spool file replayed) inserts nothing twice.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.core.decisions.record import ModelIdentity

# the chunk table's columns, in the order ``ChunkDocument.row`` returns them
CHUNK_COLUMNS = (
    "day",
    "job_id",
    "first_row",
    "last_row",
    "chunk_index",
    "row_count",
    "decided_at",
    "caller",
    "model_name",
    "model_version",
    "track",
    "threshold",
    "inputs_mode",
    "payload_format",
    "payload_sha256",
    "payload",
)
PAYLOAD_FORMAT = "arrow-ipc-zstd/3"  # a document built without the scoring's groups
GROUPED_FORMAT = "arrow-ipc-zstd/4"  # built from them (``chunk_codec.RowGroups``)
# formats ``chunk_codec`` reads: /1 stores every column per row; /2 may leave ``row_index``
# out (consecutive rows) and store reason contributions as float32 (when lossless); /3 also
# float64 inputs as float32 (when lossless, the field marked); /4 stores the outcome and
# the reasons once per group of the scoring, each row its group
PAYLOAD_FORMATS = ("arrow-ipc-zstd/1", "arrow-ipc-zstd/2", PAYLOAD_FORMAT, GROUPED_FORMAT)


@dataclass(frozen=True)
class ChunkDocument:
    """One scored chunk of a batch job: its rows ``first_row..last_row`` (1-based input
    rows) and their decisions in ``payload`` (SHA-256 ``payload_sha256``)."""

    job_id: str
    chunk_index: int
    first_row: int
    last_row: int
    row_count: int
    day: date  # the job's submission day (stable across retries): the partition
    decided_at: datetime
    model: ModelIdentity
    caller: str
    threshold: float
    inputs_mode: str  # ``values`` or ``hash`` (``InputsMode``)
    payload_sha256: str
    payload: bytes
    payload_format: str = PAYLOAD_FORMAT

    def __len__(self) -> int:
        return self.row_count

    def row(self) -> tuple[Any, ...]:
        """The chunk table's row, in ``CHUNK_COLUMNS`` order."""
        return (
            self.day,
            self.job_id,
            self.first_row,
            self.last_row,
            self.chunk_index,
            self.row_count,
            self.decided_at,
            self.caller,
            self.model.name,
            self.model.version,
            self.model.track,
            float(self.threshold),
            self.inputs_mode,
            self.payload_format,
            self.payload_sha256,
            self.payload,
        )

    def to_json(self) -> str:
        """One JSON line for the spool (the payload in base64)."""
        doc = dict(zip(CHUNK_COLUMNS, self.row(), strict=True))
        doc["day"] = self.day.isoformat()
        doc["decided_at"] = self.decided_at.isoformat()
        doc["payload"] = base64.b64encode(self.payload).decode()
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ChunkDocument:
        return cls.from_stored(json.loads(text))

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> ChunkDocument:
        """From a stored chunk row (column → value) or a spooled one (JSON values)."""
        day, at, payload = row["day"], row["decided_at"], row["payload"]
        return cls(
            job_id=row["job_id"],
            chunk_index=int(row["chunk_index"]),
            first_row=int(row["first_row"]),
            last_row=int(row["last_row"]),
            row_count=int(row["row_count"]),
            day=date.fromisoformat(day) if isinstance(day, str) else day,
            decided_at=datetime.fromisoformat(at) if isinstance(at, str) else at,
            model=ModelIdentity(row["model_name"], row["model_version"], row["track"]),
            caller=row["caller"],
            threshold=float(row["threshold"]),
            inputs_mode=row["inputs_mode"],
            payload_sha256=row["payload_sha256"],
            payload=base64.b64decode(payload) if isinstance(payload, str) else bytes(payload),
            payload_format=row.get("payload_format", PAYLOAD_FORMAT),
        )
