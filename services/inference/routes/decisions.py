"""``GET /api/v1/decisions/{request_id}``: the recorded decisions of one request.

Behind the admin key (``X-Admin-Key``), like the other admin routes: the record holds
applicants' inputs. A ``/predict`` request has one decision, a bulk request one per
applicant (``item`` is its position). Decisions still queued in this replica are
written first, so a look-up right after a request finds it; 404 if none is recorded
(under any replica) for that id; 503 if the record is off or PostgreSQL does not answer.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from services.core.decisions.record import as_dict
from services.core.decisions.writer import DecisionWriter
from services.core.web.errors import NotFound, Unavailable
from services.core.web.responses import ErrorDocs
from services.inference.deps import AdminKeyDep

ROUTE = "/api/v1/decisions/{request_id}"
REQUEST_ID = r"^[A-Za-z0-9._:\-]{1,128}$"  # what X-Request-ID accepts

router = APIRouter(tags=["admin"])
errors = ErrorDocs(
    {
        401: "missing admin key",
        403: "wrong admin key (or admin API disabled)",
        404: "no decision recorded under this request id",
        422: "the request id is not a valid X-Request-ID",
        503: "decision record off (no DECISIONS_DSN) or PostgreSQL unreachable",
    }
)


class Reason(BaseModel):
    feature: str
    value: Any = None
    contribution: float
    statement: str


class RecordedModel(BaseModel):
    name: str
    version: str
    track: str


class RecordedBaseline(BaseModel):
    version: str = Field(description="the baseline (stable) model version")
    probability: float
    prediction: int
    band: str = Field(description="the baseline's risk band")


class RecordedDecision(BaseModel):
    decision_id: str = Field(description="the record's key (idempotent writes)")
    decided_at: str = Field(description="when it was decided (UTC, ISO 8601)")
    request_id: str | None
    item: int | None = Field(description="position in the request (0 for /predict)")
    caller: str = Field(description="SHA-256 prefix of the caller's API key")
    model: RecordedModel
    inputs: dict[str, Any] | None = Field(description="validated inputs (inputs=values)")
    inputs_hash: str | None = Field(description="HMAC-SHA-256 of the inputs (inputs=hash)")
    probability: float
    prediction: int
    risk_band: str
    threshold: float
    reasons: list[Reason]
    baseline: RecordedBaseline | None = Field(
        default=None,
        description="what the baseline model answered for the same applicant, when the "
        "deciding pod scored one (a canary during a rollout); null otherwise",
    )


class DecisionsResponse(BaseModel):
    request_id: str
    count: int
    decisions: list[RecordedDecision]


def document(row: dict[str, Any]) -> dict[str, Any]:
    doc = as_dict(row)
    model = {k: doc.pop(f"model_{k}") for k in ("name", "version")}
    doc["model"] = {**model, "track": doc.pop("track")}
    for key in ("job_id", "row_index"):
        doc.pop(key)
    return doc


@router.get(
    ROUTE,
    response_model=DecisionsResponse,
    responses=errors(401, 403, 404, 422, 503),
    summary="Recorded decisions of a request",
)
async def decisions(
    _admin: AdminKeyDep,
    request: Request,
    request_id: str = Path(pattern=REQUEST_ID, description="the request's X-Request-ID"),
) -> DecisionsResponse:
    writer: DecisionWriter | None = request.app.state.decisions
    if writer is None:
        if request.app.state.settings.shadow:
            raise Unavailable("decision record off: shadow pod (mirrored copies only)")
        raise Unavailable("decision record off (set DECISIONS_DSN)")

    def look_up() -> list[dict[str, Any]]:
        writer.flush(timeout=5.0)
        return writer.store.find(request_id)

    try:
        rows = await anyio.to_thread.run_sync(look_up)
    except Exception as exc:
        raise Unavailable(f"decision record unreachable: {type(exc).__name__}") from exc
    if not rows:
        raise NotFound(f"no decision recorded for request {request_id}")
    found = [RecordedDecision.model_validate(document(r)) for r in rows]
    return DecisionsResponse(request_id=request_id, count=len(found), decisions=found)
