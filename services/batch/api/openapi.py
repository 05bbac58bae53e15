"""The OpenAPI document shows the request schemas of the model contract the API serves.

Submission models are generated per contract (``api.schemas``), so the document is built
when the contract is loaded (at start-up; until then, and if it cannot load, the JSON body
components are open placeholders saying so) and rebuilt whenever the service holds another
contract. The API checks JSON submissions with the same models (``submit_schemas``), so
the document and the API accept the same bodies.

The batch API resolves its ``model_uri`` (e.g. a registry alias ``models:/name@champion``)
at start-up and again at every submit, which pins the job to the version found: when the
alias moves, the next submit loads the new version's contract and the document follows it
(no restart). Until then it shows the contract of the version pinned last.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi

from services.batch.api.schemas import JSON_BODY, PATH, ROW, ROWS, SubmitSchemas
from services.batch.api.schemas import build_submit_schemas as _build
from services.batch.service.batch_service import BatchService

API_KEY_SCHEME = {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class SchemaCache:
    """The submission models of the service's current contract, built once per contract."""

    def __init__(self, service: BatchService) -> None:
        self.service = service
        self._for: object = None
        self._schemas: SubmitSchemas | None = None

    def current(self) -> SubmitSchemas | None:
        contract = self.service.contract
        if contract is None:
            return None
        if self._schemas is None or self._for is not contract:
            self._schemas = _build(contract, self.service.settings.max_json_rows)
            self._for = contract
        return self._schemas


def submit_schemas(request: Request) -> SubmitSchemas:
    """The models a JSON submission is checked with (503 while no contract is loaded)."""
    cache: SchemaCache = request.app.state.submit_schemas
    cache.service.require_contract()
    schemas = cache.current()
    assert schemas is not None
    return schemas


def install_openapi(app: FastAPI, cache: SchemaCache) -> None:
    built: dict[str, Any] = {"for": None, "schema": None}

    def openapi() -> dict[str, Any]:
        schemas = cache.current()
        if built["schema"] is not None and built["for"] is schemas:
            return built["schema"]  # type: ignore[no-any-return]
        schema = get_openapi(
            title=app.title,
            version=app.version,
            routes=app.routes,
            description=_description(schemas, cache.service),
        )
        add_links(schema)
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/api/"):  # every /api route is behind the key
                for operation in operations.values():
                    operation["security"] = [{"ApiKey": []}]
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(_components(schemas))
        components.setdefault("securitySchemes", {})["ApiKey"] = API_KEY_SCHEME
        built.update({"for": schemas, "schema": schema})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


JOB = "/api/v1/jobs/{job_id}"
FOLLOW_UPS = {  # link name → (path, method) of an operation on the job just answered
    "status": (JOB, "get"),
    "results": (JOB + "/results", "get"),
    "cancel": (JOB + "/cancel", "post"),
}


def add_links(schema: dict[str, Any]) -> None:
    """OpenAPI links from a job answer to what can be done with it: a submit's 202 and a
    status's 200 lead to the job's status, results and cancel (``job_id`` from the body),
    so clients and stateful fuzzers can walk submit → status → results → cancel."""
    paths = schema.get("paths", {})
    links = {
        name: {
            "operationId": paths[path][method]["operationId"],
            "parameters": {"job_id": "$response.body#/job_id"},
            "description": f"the job's {name}",
        }
        for name, (path, method) in FOLLOW_UPS.items()
        if method in paths.get(path, {})
    }
    answers = [
        ("/api/v1/jobs", "post", "202"),
        ("/api/v1/predict/batch", "post", "202"),
        (JOB, "get", "200"),
        ("/api/v1/predict/batch/{job_id}", "get", "200"),
        (JOB + "/cancel", "post", "200"),
    ]
    for path, method, status in answers:
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response["links"] = links


def _components(schemas: SubmitSchemas | None) -> dict[str, Any]:
    if schemas is not None:
        return schemas.components()
    note = {
        "type": "object",
        "description": "no model contract loaded yet: the schema appears once the API has "
        "loaded its model (submissions answer 503 until then)",
    }
    return {name: note for name in (ROW, ROWS, PATH, JSON_BODY)}


def _description(schemas: SubmitSchemas | None, service: BatchService) -> str:
    head = "Score files of applicants as jobs: submit, follow, download results, cancel."
    if schemas is None:
        return f"{head}\n\nNo model contract is loaded yet ({service.model_error})."
    contract = schemas.contract
    return (
        f"{head}\n\nServing the contract of **{contract.model_name}** (dataset "
        f"`{contract.dataset}`, {len(contract.features)} features); the JSON submission "
        "schemas below are that contract's. Each job is pinned at submit to the model "
        "version the configured URI names then (see `model` in a job's status); this "
        "document shows the contract of the version pinned last and follows a moved "
        "registry alias from the next submit on."
    )
