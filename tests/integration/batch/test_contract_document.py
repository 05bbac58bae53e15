"""The OpenAPI document says exactly what the job API accepts: JSON submission schemas
generated from the served model's contract, every method of a path in a 405's ``Allow``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.batch.api.app import create_app
from services.batch.settings import BatchSettings
from services.core.feature_fields import example
from services.core.model_store import load_model
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import TestClient
from tests.support.models import TrainedModel
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_document_of_a_lending_club_model_lists_its_22_features(
    lending_club_model: TrainedModel, redis: RedisServer, tmp_path: Path
) -> None:
    settings = make_settings(
        redis,
        tmp_path,
        tmp_path,
        model_uri=lending_club_model.uri,
        mlflow_tracking_uri=lending_club_model.tracking_uri,
        max_json_rows=7,
    )
    contract = load_model(settings.model_uri, settings.mlflow_tracking_uri, 1).contract
    with TestClient(create_app(settings)) as api:
        document = api.get("/openapi.json").json()
        body = document["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]
        assert body == document["paths"]["/api/v1/predict/batch"]["post"]["requestBody"]["content"]
        choice = _resolve(document, body["application/json"]["schema"])
        rows_body, path_body = (_resolve(document, s) for s in choice["oneOf"])
        assert rows_body["required"] == ["rows"]
        assert path_body["required"] == ["path"]
        assert rows_body["additionalProperties"] is False is path_body["additionalProperties"]
        rows = rows_body["properties"]["rows"]
        assert (rows["minItems"], rows["maxItems"]) == (1, 7)
        row = _resolve(document, rows["items"])
        assert len(contract.features) == 22
        assert list(row["properties"]) == contract.feature_names
        assert set(row["required"]) == {f.name for f in contract.features if not f.nullable}
        for spec in contract.features:
            field = row["properties"][spec.name]
            kinds = field.get("anyOf", [field])
            if spec.is_categorical:
                assert [k["enum"] for k in kinds if "enum" in k] == [spec.levels]
            else:
                number = next(k for k in kinds if k.get("type") == "number")
                if spec.min is not None:
                    assert number["minimum"] == spec.min
                if spec.max is not None:
                    assert number["maximum"] == spec.max
            assert ({"type": "null"} in kinds) == spec.nullable
        extra = row["additionalProperties"]["anyOf"]
        assert {k["type"] for k in extra} == {"string", "number", "boolean", "null"}
        assert set(body) >= {"multipart/form-data", "text/csv", "application/x-ndjson"}
        assert body["multipart/form-data"]["schema"]["required"] == ["file"]

        # the document's own example is accepted; what it refuses, the API refuses
        sample = {**example(contract), "loan_id": "L1"}
        accepted = api.post("/api/v1/jobs", json={"rows": [sample], "id_column": "loan_id"})
        assert accepted.status_code == 202, accepted.text
        for refused in (
            {},
            {"rows": []},
            {"rows": [sample] * 8},
            {"rows": [{"a": 1}]},
            {"rows": [{**sample, "term": "term_99"}]},
            {"rows": [{**sample, "funded_amnt": "12"}]},
            {"rows": [{**sample, "note": {"nested": 1}}]},
            {"rows": [sample], "path": "book.csv"},
        ):
            response = api.post("/api/v1/jobs", json=refused)
            assert response.status_code in (413, 422), (refused, response.text)


def test_every_unsupported_method_is_405_listing_every_method_of_the_path(
    api: TestClient,
) -> None:
    document = api.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        documented = {m.upper() for m in operations}
        allowed = documented  # FastAPI serves no implicit HEAD
        url = path.replace("{job_id}", "0" * 32)
        for method in sorted(METHODS - allowed):
            response = api.request(method, url)
            assert response.status_code == 405, (method, path, response.text)
            listed = {m.strip() for m in response.headers["allow"].split(",")}
            assert listed == allowed, (method, path, listed)
            if method != "HEAD":  # a HEAD answer has no body
                assert response.json()["error"]["message"] == "Method Not Allowed"


def test_the_document_waits_for_the_contract(settings: BatchSettings) -> None:
    """Before (or without) a loaded contract, the JSON components are placeholders saying
    so, and a JSON submission answers 503."""
    broken = settings.model_copy(update={"model_uri": str(settings.storage_dir / "no-model")})
    with TestClient(create_app(broken)) as api:
        document = api.get("/openapi.json").json()
        assert (
            "no model contract loaded"
            in document["components"]["schemas"]["BatchRow"]["description"]
        )
        response = api.post("/api/v1/jobs", json={"rows": [{"a": 1}]})
        assert response.status_code == 503, response.text
