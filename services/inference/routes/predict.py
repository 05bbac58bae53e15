"""``POST /api/v1/predict`` (one applicant) and ``POST /api/v1/predict/bulk`` (up to N).

The request bodies are documented from the served contract (see ``openapi.py``); the
handlers read the body themselves and validate it against the snapshot that will score
it, so validation and scoring always agree even across a reload.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from services.inference.deps import API_KEY_SECURITY, ScoringDep
from services.inference.responses import (
    BulkResponse,
    FastJSONResponse,
    PredictResponse,
    error_responses,
)
from services.inference.schemas import APPLICANT, BULK
from services.inference.scoring import observe, read_json, score

ERRORS = error_responses(401, 403, 413, 415, 422, 429, 503)
INLINE_ROWS = 64  # larger bulk requests are scored off the event loop


def body(schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    content = {"application/json": {"schema": ref}}
    return {"requestBody": {"required": True, "content": content}, **API_KEY_SECURITY}


router = APIRouter(prefix="/api/v1", tags=["scoring"])


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=ERRORS,
    openapi_extra=body(APPLICANT),
    summary="Score one applicant",
)
async def predict(request: Request, served: ScoringDep) -> Response:
    applicant = await read_json(request, served.schemas.applicant)
    scored = score(served, [applicant.__dict__])
    observe(served, scored, request)
    return FastJSONResponse(
        {"request_id": request.state.request_id, **scored.row(0), "model": served.ref}
    )


@router.post(
    "/predict/bulk",
    response_model=BulkResponse,
    responses=ERRORS,
    openapi_extra=body(BULK),
    summary="Score up to bulk_max_rows applicants",
)
async def predict_bulk(request: Request, served: ScoringDep) -> Response:
    batch = await read_json(request, served.schemas.bulk)
    records = [a.__dict__ for a in batch.applicants]  # type: ignore[attr-defined]
    if len(records) > INLINE_ROWS:
        scored = await run_in_threadpool(score, served, records)
    else:
        scored = score(served, records)
    observe(served, scored, request)
    rows = scored.rows()
    return FastJSONResponse(
        {
            "request_id": request.state.request_id,
            "model": served.ref,
            "count": len(rows),
            "predictions": rows,
        }
    )
