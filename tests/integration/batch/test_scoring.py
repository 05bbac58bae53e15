"""JSON rows, a CSV upload, a Parquet upload and a path on shared storage: each job's
results equal in-process predictions row for row, in input order, in every format."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from services.batch.api.app import create_app
from services.batch.worker.scoring import score_frame
from services.core.model_store import LoadedModel
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import (
    TestClient,
    WorkerProcess,
    assert_results_equal,
    expected,
    wait_final,
    write_parquet,
)
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration


@dataclass
class Scored:
    client: TestClient
    jobs: dict[str, str]  # case → job id
    inputs: dict[str, pd.DataFrame]
    finals: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def scored(
    tmp_path_factory: pytest.TempPathFactory,
    model_dir: Path,
    applicants: Callable[[int, int], pd.DataFrame],
) -> Iterator[Scored]:
    """Four jobs submitted four ways, then one burst worker scores them all."""
    root = tmp_path_factory.mktemp("scoring")
    redis = RedisServer(root / "redis").start()
    settings = make_settings(redis, root, model_dir, chunk_rows=5_000)
    inputs = {
        "json": applicants(300, 1),
        "csv": applicants(12_345, 2),
        "parquet": applicants(20_000, 3),
        "path": applicants(30_000, 4),
    }
    inputs["json"]["loan_id"] = [f"L{i:05d}" for i in range(300)]
    worker = None
    try:
        with TestClient(create_app(settings)) as client:
            jobs = _submit_all(client, inputs, root, settings.storage_dir)
            worker = WorkerProcess(settings, root / "worker.log", burst=True)
            assert worker.wait(180) == 0, worker.output()
            finals = {case: wait_final(client, job_id, 30) for case, job_id in jobs.items()}
            yield Scored(client, jobs, inputs, finals)
    finally:
        if worker is not None:
            worker.stop()
        redis.stop()


def _submit_all(
    client: TestClient, inputs: dict[str, pd.DataFrame], root: Path, storage: Path
) -> dict[str, str]:
    rows = inputs["json"].to_dict(orient="records")
    jobs = {"json": client.post("/api/v1/jobs", json={"rows": rows, "id_column": "loan_id"})}
    csv = inputs["csv"].to_csv(index=False).encode()
    jobs["csv"] = client.post("/api/v1/jobs", content=csv, headers={"Content-Type": "text/csv"})
    parquet = write_parquet(inputs["parquet"], root / "upload.parquet", row_group_size=3_000)
    with parquet.open("rb") as handle:
        jobs["parquet"] = client.post("/api/v1/jobs", files={"file": ("book.parquet", handle)})
    write_parquet(inputs["path"], storage / "inputs" / "book" / "big.parquet")
    jobs["path"] = client.post("/api/v1/predict/batch", json={"path": "book/big.parquet"})
    for case, response in jobs.items():
        assert response.status_code == 202, (case, response.text)
        assert response.headers["Location"].endswith(response.json()["job_id"])
    return {case: response.json()["job_id"] for case, response in jobs.items()}


def test_every_job_succeeds_with_progress_and_summary(scored: Scored, model: LoadedModel) -> None:
    for case, final in scored.finals.items():
        n = len(scored.inputs[case])
        assert final["state"] == "succeeded", (case, final)
        assert (final["rows_total"], final["rows_done"], final["progress"]) == (n, n, 1.0)
        assert final["chunks_done"] == final["chunks_total"] >= -(-n // 5_000)
        assert final["rows_per_second"] > 0
        assert final["eta_seconds"] is None
        summary = final["summary"]
        want = expected(model, scored.inputs[case])
        assert summary["rows"] == sum(summary["risk_bands"].values()) == n
        assert summary["predicted_defaults"] == int(want["prediction"].sum())
        assert summary["risk_bands"] == want["risk_band"].value_counts().to_dict()
        assert list(summary["risk_bands"]) == [
            b for b in ("low", "medium", "high", "very_high") if b in summary["risk_bands"]
        ]


def test_json_rows_paged_results_equal_in_process(scored: Scored, model: LoadedModel) -> None:
    job_id, rows, offset = scored.jobs["json"], [], 0
    while offset is not None:
        page = scored.client.get(
            f"/api/v1/jobs/{job_id}/results",
            params={"format": "json", "offset": offset, "limit": 70},
        ).json()
        assert page["total"] == 300
        rows += page["rows"]
        offset = page["next_offset"]
    results = pd.DataFrame(rows)
    assert_results_equal(results, expected(model, scored.inputs["json"]))
    assert results["loan_id"].tolist() == scored.inputs["json"]["loan_id"].tolist()


def test_csv_upload_csv_download_equals_in_process(scored: Scored, model: LoadedModel) -> None:
    response = scored.client.get(f"/api/v1/jobs/{scored.jobs['csv']}/results")
    assert response.headers["content-type"].startswith("text/csv")
    results = pd.read_csv(io.BytesIO(response.content))
    assert_results_equal(results, expected(model, scored.inputs["csv"]))


def test_parquet_upload_parquet_download_equals_in_process(
    scored: Scored, model: LoadedModel
) -> None:
    response = scored.client.get(
        f"/api/v1/jobs/{scored.jobs['parquet']}/results", params={"format": "parquet"}
    )
    results = pd.read_parquet(io.BytesIO(response.content))
    assert_results_equal(results, expected(model, scored.inputs["parquet"]))


def test_path_job_via_aliases_pages_across_chunk_boundaries(
    scored: Scored, model: LoadedModel
) -> None:
    job_id = scored.jobs["path"]
    status = scored.client.get(f"/api/v1/predict/batch/{job_id}").json()
    assert status["state"] == "succeeded"
    assert status["source"]["kind"] == "path"
    page = scored.client.get(
        f"/api/v1/jobs/{job_id}/results", params={"format": "json", "offset": 4_990, "limit": 20}
    ).json()
    want = expected(model, scored.inputs["path"]).iloc[4_990:5_010].reset_index(drop=True)
    assert_results_equal(pd.DataFrame(page["rows"]), want)
    assert page["next_offset"] == 5_010


def test_recent_jobs_lists_all_four_newest_first(scored: Scored) -> None:
    listed = scored.client.get("/api/v1/jobs", params={"limit": 10}).json()
    assert [job["job_id"] for job in listed] == list(reversed(scored.jobs.values()))


def test_worker_results_carry_the_reason_columns_of_in_process_scoring(
    scored: Scored, model: LoadedModel
) -> None:
    """Workers score with reasons on by default (BATCH_REASONS_TOP_K=4): every row of the
    download has reason_1..4, equal to the shared in-process scoring's."""
    response = scored.client.get(f"/api/v1/jobs/{scored.jobs['csv']}/results")
    results = pd.read_csv(io.BytesIO(response.content), keep_default_na=False)
    frame = scored.inputs["csv"]
    want = score_frame(model, frame, 1, reasons_k=4)
    for i in range(1, 5):
        for column in (f"reason_{i}", f"reason_{i}_feature"):
            cells = want.column(column).to_pylist()
            assert results[column].tolist() == [c or "" for c in cells]  # CSV: null is empty
    declined = results[results["prediction"] == 1]
    assert len(declined)
    assert (declined["reason_1"] != "").all()
