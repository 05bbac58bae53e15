"""``POST /api/v1/admin/reload``: load a model version and swap it in without downtime.

Protected by its own key (``X-Admin-Key``; disabled unless ``INFERENCE_ADMIN_KEY_HASH`` is
set). Without a body it reloads the served URI (e.g. an alias that moved); ``uri`` serves
another version of the served registered model until the next restart (which reads
``MODEL_URI`` again); ``force`` accepts a contract that is incompatible with the served one
(clients may break). ``uri`` takes registry URIs only (``models:/name/3``,
``models:/name@alias``; else 422) of the served model's name (another name: 409): no
local paths (a path such as ``/`` was searched recursively), no ``runs:/``, ``s3://`` or
``http://`` artifact locations the server would fetch for whoever holds the admin key.

The optional body is read here, after the admin key is checked, with the same strict
parser and errors as the scoring routes: 415 unless JSON, 422 for anything that does not
parse or validate (FastAPI's own body handling answered an undocumented 400 to bytes that
are not UTF-8, and took ``"force": 0`` for false).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from services.core import telemetry
from services.core.model_ref import MODELS_URI, ModelRef
from services.core.web.bodies import parse_json, require_json
from services.core.web.errors import Conflict
from services.inference.deps import AdminKeyDep, RuntimeDep
from services.inference.responses import ReloadStatus, error_responses

router = APIRouter(tags=["admin"])


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # `"force": 0` is not false

    uri: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        pattern=MODELS_URI.pattern,
        description="registry URI of a version of the served model (models:/NAME/VERSION "
        "or models:/NAME@ALIAS; default: the served URI)",
    )
    force: bool = Field(False, description="accept an incompatible contract")


BODY: TypeAdapter[ReloadRequest | None] = TypeAdapter(ReloadRequest | None)
OPTIONAL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {"anyOf": [ReloadRequest.model_json_schema(), {"type": "null"}]}
            }
        },
    }
}


def check_same_model(uri: str, served_name: str | None) -> None:
    """Reload moves between versions of the served registered model, never to another."""
    name = ModelRef.parse(uri).name
    if served_name is not None and name != served_name:
        # 409, not 422: the request is valid; it conflicts with what this server serves
        raise Conflict(f"reload serves versions of {served_name!r} only, not {name!r}")


async def read_options(request: Request) -> ReloadRequest:
    """The body's options; no body (or JSON ``null``) means the defaults."""
    raw = await request.body()
    if not raw:
        return ReloadRequest()
    require_json(request)
    return parse_json(raw, BODY) or ReloadRequest()


@router.post(
    telemetry.ADMIN_RELOAD,
    response_model=ReloadStatus,
    responses=error_responses(401, 403, 409, 413, 415, 422),
    openapi_extra=OPTIONAL_BODY,
    summary="Reload the model",
)
async def reload(_admin: AdminKeyDep, runtime: RuntimeDep, request: Request) -> ReloadStatus:
    options = await read_options(request)
    if options.uri is not None:
        check_same_model(options.uri, runtime.current.model.name if runtime.current else None)
    status = await runtime.reload(options.uri, force=options.force)
    if not status.ok:
        raise Conflict(f"reload refused: {status.message}", details=[status.model_dump()])
    return status
