"""``POST /api/v1/predict`` (one applicant) and ``POST /api/v1/predict/bulk`` (up to N).

The request bodies are documented from the served contract (see ``openapi.py``); the
handlers read the body themselves and validate it against the snapshot that will score
it, so validation and scoring always agree even across a reload. Both stay on the event
loop: a 1,000-row bulk request is a few milliseconds of CPU, and a worker thread would not
run it in parallel (GIL) but did triple its CPU cost under concurrent bulk load.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.core import telemetry
from services.core.web.bodies import read_json
from services.core.web.fast_json import FastJSONResponse
from services.core.web.lean_route import LeanRoute
from services.inference.deps import API_KEY_SECURITY, authorize
from services.inference.recording import online_decisions
from services.inference.responses import BulkResponse, PredictResponse, error_responses
from services.inference.schemas import APPLICANT, BULK
from services.inference.scoring import Scorer

ERRORS = error_responses(401, 403, 413, 415, 422, 429, 503)


def body(schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    content = {"application/json": {"schema": ref}}
    return {"requestBody": {"required": True, "content": content}, **API_KEY_SECURITY}


router = APIRouter(tags=["scoring"], route_class=LeanRoute)  # no query: no param solving

Explain = Annotated[
    bool,
    Query(
        description="add reason codes to every answer; without it only declined "
        "applicants (prediction 1) get them"
    ),
]


def scorer(request: Request) -> Scorer:
    return request.app.state.scorer  # type: ignore[no-any-return]


@router.post(
    telemetry.PREDICT,
    response_model=PredictResponse,
    responses=ERRORS,
    openapi_extra=body(APPLICANT),
    summary="Score one applicant",
)
async def predict(request: Request, explain: Explain = False) -> Response:
    served = authorize(request)
    applicant = await read_json(request, served.schemas.applicant)
    inputs = applicant.__dict__
    answer, baseline = await scorer(request).score_one(served, inputs, explain)
    request.state.model_labels = served.labels  # the HTTP metrics' labels: who answered
    request_id = request.state.request_id
    writer = request.app.state.decisions
    if writer is not None:  # queued for the writer thread: no I/O here
        caller = request.state.api_key_id
        decisions = online_decisions(
            served, request_id, caller, (inputs,), (answer,), baselines=(baseline,)
        )
        writer.submit(decisions)
    return FastJSONResponse({"request_id": request_id, **answer, "model": served.ref})


@router.post(
    telemetry.PREDICT_BULK,
    response_model=BulkResponse,
    responses=ERRORS,
    openapi_extra=body(BULK),
    summary="Score up to bulk_max_rows applicants",
)
async def predict_bulk(request: Request, explain: Explain = False) -> Response:
    served = authorize(request)
    batch = await read_json(request, served.schemas.bulk)
    applicants = [a.__dict__ for a in batch.applicants]  # type: ignore[attr-defined]
    rows, baseline = scorer(request).score_many(served, applicants, explain)
    request.state.model_labels = served.labels
    request_id = request.state.request_id
    writer = request.app.state.decisions
    if writer is not None:
        caller = request.state.api_key_id
        baselines = baseline.answers() if baseline is not None else None
        writer.submit(
            online_decisions(served, request_id, caller, applicants, rows, baselines=baselines)
        )
    return FastJSONResponse(
        {
            "request_id": request_id,
            "model": served.ref,
            "count": len(rows),
            "predictions": rows,
        }
    )
