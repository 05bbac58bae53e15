"""``GET /api/v1/model/info``: what is served, its contract summary, reload and drift state."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.core import telemetry
from services.inference.deps import API_KEY_SECURITY, RuntimeDep, ScoringDep
from services.inference.responses import (
    BaselineInfo,
    FeatureInfo,
    ModelInfo,
    error_responses,
)
from services.inference.runtime import ModelRuntime, Served


def model_info(runtime: ModelRuntime, served: Served) -> ModelInfo:
    contract = served.model.contract
    return ModelInfo(
        model=served.ref,  # type: ignore[arg-type]
        uri=runtime.uri,
        dataset=contract.dataset,
        threshold=contract.threshold,
        risk_bands=[band.model_dump() for band in contract.risk_bands],
        features=[
            FeatureInfo(
                name=f.name,
                type=f.type.value,
                nullable=f.nullable,
                min=f.min,
                max=f.max,
                levels=f.levels,
            )
            for f in contract.features
        ],
        metrics=contract.metrics,
        data_fingerprint=contract.data_fingerprint,
        loaded_at=served.loaded_at,
        last_reload=runtime.last_reload,
        drift=served.drift.flush().as_dict(),  # type: ignore[arg-type]
        baseline=baseline_info(runtime, served),
    )


def baseline_info(runtime: ModelRuntime, served: Served) -> BaselineInfo | None:
    uri = runtime.settings.baseline_model_uri
    if not uri:
        return None
    version = runtime.baseline.version if runtime.baseline is not None else None
    paired = served.paired is not None
    return BaselineInfo(uri=uri, version=version, paired=paired, status=runtime.baseline_message)


router = APIRouter(tags=["model"])


@router.get(
    telemetry.MODEL_INFO,
    response_model=ModelInfo,
    responses=error_responses(401, 403, 429, 503),
    openapi_extra=API_KEY_SECURITY,
    summary="The served model",
)
async def info(request: Request, served: ScoringDep, runtime: RuntimeDep) -> ModelInfo:
    return model_info(runtime, served)
