"""The OpenAPI document shows the request schema of the model being served *now*.

Request models are generated per model version, so the document is generated on demand:
the static part from the routes, the ``Applicant`` and ``BulkRequest`` components from the
served snapshot's models. It is cached until the runtime swaps to another version, so
``/docs`` follows a reload. Before the first model loads the two components are open
placeholders saying so.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.inference.deps import API_KEY_SCHEME
from services.inference.runtime import ModelRuntime
from services.inference.schemas import APPLICANT, BULK

REF = "#/components/schemas/{model}"


def request_components(runtime: ModelRuntime) -> dict[str, Any]:
    served = runtime.current
    if served is None:
        note = {
            "type": "object",
            "description": "no model loaded yet: the schema appears "
            "once the service serves a model",
        }
        return {APPLICANT: note, BULK: note}
    out: dict[str, Any] = {}
    for model in (served.schemas.applicant, served.schemas.bulk):
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def install_openapi(app: FastAPI, runtime: ModelRuntime) -> None:
    cache: dict[str, Any] = {"generation": None, "schema": None}

    def openapi() -> dict[str, Any]:
        if cache["schema"] is not None and cache["generation"] == runtime.generation:
            return cache["schema"]  # type: ignore[no-any-return]
        schema = get_openapi(
            title=app.title,
            version=app.version,
            routes=app.routes,
            description=_description(app, runtime),
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(request_components(runtime))
        components.setdefault("securitySchemes", {})["ApiKey"] = API_KEY_SCHEME
        cache.update(generation=runtime.generation, schema=schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _description(app: FastAPI, runtime: ModelRuntime) -> str:
    served = runtime.current
    if served is None:
        return f"{app.description}\n\nNo model is loaded yet."
    name, version, track = served.labels
    return (
        f"{app.description}\n\nServing **{name} v{version}** (track `{track}`, dataset "
        f"`{served.model.contract.dataset}`); request schemas below are that model's."
    )
