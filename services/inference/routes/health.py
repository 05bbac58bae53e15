"""Open endpoints: ``/healthz`` (liveness), ``/readyz`` (a model serves), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from services.core import telemetry
from services.inference.deps import MetricsDep, RuntimeDep
from services.inference.responses import Health

router = APIRouter(tags=["health"])


@router.get(telemetry.HEALTHZ, response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    telemetry.READYZ,
    response_model=Health,
    summary="Readiness: a model is loaded",
    responses={503: {"model": Health, "description": "no model loaded yet"}},
)
async def readyz(runtime: RuntimeDep) -> Response:
    served = runtime.current
    if served is None:
        reason = runtime.last_reload.message if runtime.last_reload else "loading"
        return JSONResponse({"status": "not_ready", "model": None, "reason": reason}, 503)
    return JSONResponse({"status": "ready", "model": served.ref, "reason": None})


@router.get(telemetry.METRICS, include_in_schema=False)
async def metrics(runtime: RuntimeDep, metrics: MetricsDep) -> Response:
    if runtime.current is not None:
        runtime.current.drift.flush()  # publish the rows queued since the last flush
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
