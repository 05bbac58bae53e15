"""Probes and metrics (open, no API key): ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from services.batch.api.deps import ServiceDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready: model contract loaded and Redis reachable",
    responses={
        503: {
            "description": "not ready: the problems are listed",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def readyz(service: ServiceDep) -> JSONResponse:
    ready, body = await run_in_threadpool(service.readiness)
    return JSONResponse(body, 200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    data = await run_in_threadpool(generate_latest, request.app.state.metrics)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
