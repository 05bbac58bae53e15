"""Results: a CSV or Parquet download streamed chunk by chunk, or a JSON page."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from services.batch import formats
from services.batch.api.deps import Caller, JobId, ServiceDep, require_key
from services.batch.api.docs import ResultPage, error_responses

router = APIRouter(prefix="/api/v1", tags=["results"], dependencies=[Depends(require_key)])

PARQUET = formats.by_name("parquet").media_type


@router.get(
    "/jobs/{job_id}/results",
    response_model=None,
    summary="Results of a succeeded job, in input order",
    responses={
        200: {
            "model": ResultPage,
            "description": "format=csv: a CSV file; format=parquet: a Parquet file; "
            "format=json: a page of rows",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                PARQUET: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **error_responses(404, 409),
    },
)
def results(
    job_id: JobId,
    service: ServiceDep,
    caller: Caller,
    format: Literal["csv", "parquet", "json"] = "csv",
    offset: Annotated[int, Query(ge=0, description="first row of a JSON page (0-based)")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="rows in a JSON page")] = 1000,
) -> Response | dict[str, Any]:
    if format == "json":
        return service.result_page(job_id, offset, limit, caller)
    media_type, stream = service.download(job_id, format, caller)
    disposition = f'attachment; filename="{job_id}.{format}"'
    return StreamingResponse(
        stream, media_type=media_type, headers={"Content-Disposition": disposition}
    )
