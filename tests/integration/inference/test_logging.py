"""Every log line is one JSON object carrying the request id; keys never reach the logs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.inference.harness import API_KEY, AUTH, make_settings, running
from tests.support.logs import captured, parsed
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration


@pytest.fixture
def lines() -> Iterator[list[str]]:
    with captured("INFO", service="inference") as logged:
        yield logged


async def test_log_lines_are_json_with_the_request_id(
    default_model: TrainedModel, lines: list[str]
) -> None:
    settings = make_settings(
        default_model, access_log=True, access_log_probes=True, model_uri="models:/nope/1"
    )
    async with running(settings) as svc:
        await svc.client.get("/readyz", headers={"X-Request-ID": "trace-1"})
        await svc.client.post("/api/v1/predict", json={}, headers={**AUTH, "X-Request-ID": "t-2"})
    records = parsed(lines)
    assert records, "nothing was logged"
    by_id = {r["request_id"]: r for r in records if "request_id" in r}
    assert "GET /readyz 503" in by_id["trace-1"]["message"]
    assert "POST /api/v1/predict 503" in by_id["t-2"]["message"]
    assert all(r["service"] == "inference" for r in records)
    assert any("reload refused" in r["message"] for r in records)
    assert not any(API_KEY in line for line in lines)
