"""``POST /api/v1/admin/reload``: load a model version and swap it in without downtime.

Protected by its own key (``X-Admin-Key``; disabled unless ``INFERENCE_ADMIN_KEY_HASH`` is
set). Without a body it reloads the served URI (e.g. an alias that moved); ``uri`` serves
another model until the next restart (which reads ``MODEL_URI`` again); ``force`` accepts
a contract that is incompatible with the served one (clients may break).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.core.web.errors import Conflict
from services.inference.deps import AdminKeyDep, RuntimeDep
from services.inference.responses import ReloadStatus, error_responses

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uri: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="model URI to load (default: the served URI)",
    )
    force: bool = Field(False, description="accept an incompatible contract")


@router.post(
    "/reload",
    response_model=ReloadStatus,
    responses=error_responses(401, 403, 409, 422),
    summary="Reload the model",
)
async def reload(
    _admin: AdminKeyDep, runtime: RuntimeDep, body: ReloadRequest | None = None
) -> ReloadStatus:
    request = body or ReloadRequest()
    status = await runtime.reload(request.uri, force=request.force)
    if not status.ok:
        raise Conflict(f"reload refused: {status.message}", details=[status.model_dump()])
    return status
