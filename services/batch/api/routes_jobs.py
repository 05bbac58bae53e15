"""Job routes: submit (and its alias), list, status (and its alias), cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from services.batch import formats
from services.batch.api.deps import Caller, JobId, ServiceDep, require_key
from services.batch.api.docs import error_responses
from services.batch.api.schemas import ID_COLUMN_RULE, JSON_BODY, NOT_A_RESULT_COLUMN
from services.batch.api.uploads import FORMAT_PATTERN, HttpSubmission
from services.batch.service.submit import Submitted, accept
from services.batch.service.views import JobStatus

MAX_WAIT_SECONDS = 30.0  # the longest a status request may wait for its job to end

router = APIRouter(prefix="/api/v1", tags=["jobs"], dependencies=[Depends(require_key)])

FILE = {"type": "string", "format": "binary"}
SUBMIT_BODIES: dict[str, Any] = {
    "requestBody": {
        "description": "JSON rows or a path (exactly one), a multipart form with a file, or "
        "the file itself as the body (streamed to disk). A file's content is checked against "
        "the model contract at submit (422 naming columns and rows).",
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{JSON_BODY}"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            **FILE,
                            "description": "the input file; its name's suffix ("
                            + ", ".join(s for f in formats.FORMATS for s in f.suffixes)
                            + ") declares its format, else its bytes decide",
                        },
                        "id_column": {
                            "type": "string",
                            "description": ID_COLUMN_RULE + "; must be a column of the file",
                            **NOT_A_RESULT_COLUMN,
                        },
                        "format": {
                            "type": "string",
                            "enum": formats.names(),
                            "description": "format of the file (else its name, then its bytes)",
                        },
                    },
                }
            },
            **{media_type: {"schema": FILE} for media_type in formats.media_types()},
        },
        "required": True,
    },
}
SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobStatus,
        "description": "accepted (or the job of an Idempotency-Key sent again with the same "
        "request; header Idempotent-Replayed: true)",
        "headers": {
            "Location": {"description": "the job's status URL", "schema": {"type": "string"}},
            "Idempotent-Replayed": {
                "description": "present (true) when an Idempotency-Key returned its job",
                "schema": {"type": "string", "enum": ["true"]},
            },
        },
    },
    **error_responses(400, 413, 415),
}


def _accepted(submitted: Submitted) -> JSONResponse:
    headers = {"Location": submitted.status.links["self"]}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(submitted.status.model_dump(mode="json"), 202, headers=headers)


@router.post(
    "/jobs",
    status_code=202,
    openapi_extra=SUBMIT_BODIES,
    responses=SUBMIT_RESPONSES,
    summary="Submit a job",
)
@router.post(
    "/predict/batch",
    status_code=202,
    openapi_extra=SUBMIT_BODIES,
    responses=SUBMIT_RESPONSES,
    summary="Submit a job (alias)",
)
async def submit(
    request: Request,
    service: ServiceDep,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    id_column: Annotated[
        str | None, Query(description="for a file body: " + ID_COLUMN_RULE)
    ] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    format: Annotated[str | None, Query(pattern=FORMAT_PATTERN)] = None,
) -> JSONResponse:
    params = {"id_column": id_column, "name": name, "format": format}
    submission = HttpSubmission(request, service, params, caller)
    return _accepted(await accept(service, submission, caller, idempotency_key))


@router.get("/jobs", responses=error_responses(), summary="Recent jobs, newest first")
def recent(
    service: ServiceDep, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[JobStatus]:
    return service.recent(limit, caller)


@router.get("/jobs/{job_id}", responses=error_responses(404), summary="Job status and progress")
@router.get(
    "/predict/batch/{job_id}",
    responses=error_responses(404),
    summary="Job status and progress (alias)",
)
def status(
    job_id: JobId,
    service: ServiceDep,
    caller: Caller,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="answer once the job has ended, or after this many seconds "
            "(a long poll; 0: at once)",
        ),
    ] = 0.0,
) -> JobStatus:
    return service.status(job_id, caller, wait)


@router.post(
    "/jobs/{job_id}/cancel",
    responses=error_responses(404, 409),
    summary="Cancel a queued or running job",
)
def cancel(job_id: JobId, service: ServiceDep, caller: Caller) -> JobStatus:
    return service.cancel(job_id, caller)
