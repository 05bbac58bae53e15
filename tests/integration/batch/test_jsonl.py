"""A JSON Lines book submitted against real Redis and a real worker: raw
``application/x-ndjson`` and a ``.jsonl`` form upload both score like in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pandas as pd
import pytest

from services.batch.settings import BatchSettings
from services.core.model_store import LoadedModel
from tests.integration.batch.harness import (
    TestClient,
    WorkerProcess,
    assert_results_equal,
    expected,
    wait_final,
)

pytestmark = pytest.mark.integration


def test_json_lines_jobs_score_like_in_process(
    api: TestClient,
    settings: BatchSettings,
    model: LoadedModel,
    spawn_worker: Callable[..., WorkerProcess],
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    frame = applicants(7_000, 11)
    frame["loan_id"] = [f"L{i:05d}" for i in range(len(frame))]
    book = "".join(json.dumps(row) + "\n" for row in frame.to_dict(orient="records")).encode()
    raw = api.post(
        "/api/v1/jobs",
        content=book,
        headers={"Content-Type": "application/x-ndjson"},
        params={"id_column": "loan_id"},
    )
    form = api.post("/api/v1/jobs", files={"file": ("book.jsonl", book)})
    for response in (raw, form):
        assert response.status_code == 202, response.text
        assert response.json()["source"]["format"] == "jsonl"
    assert spawn_worker(settings, burst=True).wait(120) == 0
    for response in (raw, form):
        final = wait_final(api, response.json()["job_id"], 30)
        assert final["state"] == "succeeded", final
        assert final["rows_total"] == final["summary"]["rows"] == len(frame)
    download = api.get(f"/api/v1/jobs/{raw.json()['job_id']}/results", params={"format": "csv"})
    results = pd.read_csv(io.BytesIO(download.content))
    assert_results_equal(results, expected(model, frame))
    assert results["loan_id"].tolist() == frame["loan_id"].tolist()
