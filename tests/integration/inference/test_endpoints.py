"""Every endpoint of the service on a real model from a temporary MLflow store."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

import numpy as np
import pytest

from services.core.model_store import load_model
from services.inference.schemas import build_schemas
from tests.integration.inference.harness import (
    AUTH,
    Service,
    applicants,
    make_settings,
    running,
)
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration

APPLICANT = {"student": "No", "balance": 1500.0, "income": 30000.0}


@pytest.fixture
async def service(default_model: TrainedModel) -> AsyncIterator[Service]:
    async with running(make_settings(default_model)) as svc:
        yield svc


async def test_predict_answers_with_score_band_model_and_request_id(service: Service) -> None:
    response = await service.client.post(
        "/api/v1/predict", json=APPLICANT, headers={**AUTH, "X-Request-ID": "req-42"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id", "prediction", "probability", "risk_band", "model"}
    assert body["request_id"] == "req-42" == response.headers["x-request-id"]
    assert body["model"] == {"name": "default-model", "version": "1", "track": "stable"}
    assert 0 <= body["probability"] <= 1
    assert body["prediction"] in (0, 1)
    assert body["risk_band"] in {"low", "medium", "high", "very_high"}


async def test_scores_equal_the_model_scored_directly(
    service: Service, default_model: TrainedModel
) -> None:
    rows = applicants("default", 40, seed=3)
    model = load_model(default_model.uri, default_model.tracking_uri)
    schemas = build_schemas(model.contract, 1000)
    direct = model.predict(schemas.encoder.encode(rows))
    bulk = (await service.bulk(rows)).json()
    assert bulk["count"] == 40
    assert bulk["model"]["version"] == "1"
    got = np.array([p["probability"] for p in bulk["predictions"]])
    np.testing.assert_allclose(got, direct.probability, rtol=1e-12)
    assert [p["prediction"] for p in bulk["predictions"]] == direct.label.tolist()
    assert [p["risk_band"] for p in bulk["predictions"]] == direct.band.tolist()
    single = [(await service.predict(row)).json() for row in rows[:10]]
    assert [s["probability"] for s in single] == direct.probability[:10].tolist()
    assert [s["prediction"] for s in single] == direct.label[:10].tolist()
    assert [s["risk_band"] for s in single] == direct.band[:10].tolist()


async def test_prediction_follows_the_threshold(service: Service) -> None:
    threshold = (await service.info())["threshold"]
    grid = [
        {"student": s, "balance": float(b), "income": 15000.0}
        for s in ("No", "Yes")
        for b in range(0, 3000, 100)
    ]
    scores = (await service.bulk(grid)).json()["predictions"]
    assert all(p["prediction"] == int(p["probability"] >= threshold) for p in scores)
    assert {p["prediction"] for p in scores} == {0, 1}


async def test_bulk_limits(default_model: TrainedModel) -> None:
    async with running(make_settings(default_model, bulk_max_rows=5)) as svc:
        assert (await svc.bulk([APPLICANT] * 5)).status_code == 200
        too_many = await svc.bulk([APPLICANT] * 6)
        assert too_many.status_code == 422
        assert too_many.json()["error"]["details"][0]["loc"] == ["body", "applicants"]
        assert (await svc.bulk([])).status_code == 422
        bad_row = await svc.bulk([APPLICANT, {**APPLICANT, "income": -1}])
        assert bad_row.json()["error"]["details"][0]["loc"] == ["body", "applicants", "1", "income"]


async def test_model_info(service: Service) -> None:
    info = await service.info()
    assert info["model"] == {"name": "default-model", "version": "1", "track": "stable"}
    assert info["dataset"] == "default"
    assert info["uri"] == "models:/default-model/1"
    assert [f["name"] for f in info["features"]] == ["student", "balance", "income"]
    assert info["features"][0]["levels"] == ["No", "Yes"]
    assert info["metrics"]["roc_auc"] > 0.9
    assert info["risk_bands"][-1]["upper"] == 1.0
    assert info["last_reload"]["ok"]
    assert info["drift"]["samples"] == 0


async def test_open_endpoints_need_no_key(service: Service) -> None:
    client = service.client
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["model"]["version"] == "1"
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "inference_model_info" in metrics.text
    assert (await client.get("/docs")).status_code == 200


async def test_openapi_documents_the_served_contract(service: Service) -> None:
    spec = (await service.client.get("/openapi.json")).json()
    applicant = spec["components"]["schemas"]["Applicant"]
    assert set(applicant["properties"]) == {"student", "balance", "income"}
    assert applicant["properties"]["student"]["enum"] == ["No", "Yes"]
    assert applicant["additionalProperties"] is False
    predict = spec["paths"]["/api/v1/predict"]["post"]
    assert predict["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Applicant"
    }
    assert predict["security"] == [{"ApiKey": []}]
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    assert {"401", "403", "413", "415", "422", "429", "503"} <= set(predict["responses"])
    assert "default-model v1" in spec["info"]["description"]


@pytest.mark.parametrize("path", ["/api/v1/predict", "/api/v1/predict/bulk", "/api/v1/model/info"])
async def test_api_key_missing_401_wrong_403(service: Service, path: str) -> None:
    method = service.client.get if path.endswith("info") else service.client.post
    missing = await method(path)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = await method(path, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "forbidden"


async def test_oversized_body_is_413(default_model: TrainedModel) -> None:
    async with running(make_settings(default_model, max_body_bytes=2048)) as svc:
        response = await svc.bulk([APPLICANT] * 100)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        samples = await svc.metrics()
        assert any(
            n == "http_requests_total"
            and lab["status"] == "413"
            and lab["route"] == "/api/v1/predict/bulk"
            for n, lab, _ in samples
        )


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"student=No", "application/x-www-form-urlencoded"),
        (b'{"a": 1}', "text/plain"),
        (b'{"a": 1}', None),
    ],
)
async def test_non_json_content_type_is_415(
    service: Service, content: bytes, content_type: str | None
) -> None:
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    response = await service.client.post("/api/v1/predict", content=content, headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_unknown_path_and_wrong_method_are_json_errors(service: Service) -> None:
    missing = await service.client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert "error" in missing.json()
    wrong = await service.client.get("/api/v1/predict", headers=AUTH)
    assert wrong.status_code == 405
    assert "error" in wrong.json()


async def test_request_id_is_generated_or_sanitised(service: Service) -> None:
    generated = await service.predict(APPLICANT)
    assert len(generated.json()["request_id"]) == 32
    evil = await service.client.post(
        "/api/v1/predict", json=APPLICANT, headers={**AUTH, "X-Request-ID": "bad id\n{}"}
    )
    assert evil.json()["request_id"] != "bad id\n{}"
    assert evil.headers["x-request-id"] == evil.json()["request_id"]


async def test_heap_is_frozen_after_a_swap_when_enabled(default_model: TrainedModel) -> None:
    gc.unfreeze()
    try:
        async with running(make_settings(default_model, gc_freeze=True)) as svc:
            assert gc.get_freeze_count() > 0
            assert (await svc.predict(APPLICANT)).status_code == 200
    finally:
        gc.unfreeze()
