"""Cancel, result TTL, idempotent resubmission, API keys, probes and metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from httpx import Response

from services.batch.api.app import create_app
from services.batch.settings import BatchSettings
from services.core.web.auth import hash_key
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import TestClient, WorkerProcess, wait_final, wait_for
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

Spawn = Callable[..., WorkerProcess]


def _rows(frame: pd.DataFrame) -> dict[str, object]:
    return {"rows": frame.to_dict(orient="records")}


def test_cancelled_job_is_not_scored_and_has_no_results(
    api: TestClient,
    settings,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    job = api.post("/api/v1/jobs", json=_rows(applicants(60_000, 1))).json()
    cancelled = api.post(f"/api/v1/jobs/{job['job_id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    assert spawn_worker(settings, burst=True).wait(120) == 0
    status = api.get(f"/api/v1/jobs/{job['job_id']}").json()
    assert (status["state"], status["rows_done"]) == ("cancelled", 0)
    assert not list((settings.storage_dir / "jobs" / job["job_id"] / "results").glob("*"))
    assert api.get(f"/api/v1/jobs/{job['job_id']}/results").status_code == 409
    again = api.post(f"/api/v1/jobs/{job['job_id']}/cancel")
    assert again.status_code == 409
    assert "already cancelled" in again.json()["error"]["message"]


def test_results_expire_after_their_ttl(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    ttl = 5  # long enough to read the results once the job ends, even on a busy machine
    settings = make_settings(redis, tmp_path, model_dir, result_ttl_seconds=ttl)
    spawn_worker(settings)
    with TestClient(create_app(settings)) as client:
        job_id = client.post("/api/v1/jobs", json=_rows(applicants(500, 2))).json()["job_id"]
        assert wait_final(client, job_id, 120)["state"] == "succeeded"
        assert client.get(f"/api/v1/jobs/{job_id}/results").status_code == 200

        def expired() -> Any:
            response = client.get(f"/api/v1/jobs/{job_id}")
            return response if response.status_code == 404 else None

        gone = wait_for("the job to expire", expired, ttl + 30, 0.25)
        assert "expired" in gone.json()["error"]["message"]
        assert client.get(f"/api/v1/jobs/{job_id}/results").status_code == 404
        assert client.get("/api/v1/jobs").json() == []
    folder = settings.storage_dir / "jobs" / job_id
    wait_for("worker maintenance to delete the expired results", lambda: not folder.exists(), 30)


def test_same_idempotency_key_returns_the_same_job(
    api: TestClient, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    body = _rows(applicants(50, 3))
    first = api.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "book-2026-11"})
    again = api.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "book-2026-11"})
    other = api.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "book-2026-12"})
    assert first.status_code == again.status_code == other.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"] != other.json()["job_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    listed = [job["job_id"] for job in api.get("/api/v1/jobs").json()]
    assert listed == [other.json()["job_id"], first.json()["job_id"]]


def test_same_idempotency_key_with_another_request_is_refused_and_nothing_is_kept(
    api: TestClient, settings: BatchSettings, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    key = {"Idempotency-Key": "book-2026-13"}
    first = api.post("/api/v1/jobs", json=_rows(applicants(50, 4)), headers=key)
    assert first.status_code == 202
    job_id = first.json()["job_id"]
    other = api.post("/api/v1/jobs", json=_rows(applicants(50, 5)), headers=key)
    assert other.status_code == 422, other.text
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert job_id in error["message"]
    # the query is part of the request too
    shifted = api.post("/api/v1/jobs?name=other", json=_rows(applicants(50, 4)), headers=key)
    assert shifted.status_code == 422
    assert [job["job_id"] for job in api.get("/api/v1/jobs").json()] == [job_id]
    assert [d.name for d in (settings.storage_dir / "jobs").iterdir()] == [job_id]


@pytest.mark.parametrize("send", ["multipart", "csv"])
def test_an_upload_sent_again_with_its_key_is_replayed(
    api: TestClient, applicants: Callable[[int, int], pd.DataFrame], send: str
) -> None:
    csv = applicants(40, 6).to_csv(index=False).encode()
    key = {"Idempotency-Key": f"upload-{send}"}

    def post(data: bytes) -> Response:
        if send == "multipart":  # every request gets its own random form boundary
            files = {"file": ("book.csv", data, "text/csv")}
            return api.post("/api/v1/jobs", files=files, data={"id_column": "income"}, headers=key)
        headers = {**key, "Content-Type": "text/csv"}
        return api.post("/api/v1/jobs?id_column=income", content=data, headers=headers)

    first, again = post(csv), post(csv)
    assert first.status_code == again.status_code == 202, again.text
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = post(csv.replace(b"\n", b"\r\n"))  # the same rows, other bytes
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"


def test_api_keys_guard_jobs_but_not_probes(
    redis: RedisServer, tmp_path: Path, model_dir: Path
) -> None:
    settings = make_settings(redis, tmp_path, model_dir, api_key_hashes=[hash_key("s3cret")])
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/jobs").status_code == 401
        assert client.get("/api/v1/jobs", headers={"X-API-Key": "wrong"}).status_code == 403
        assert client.get("/api/v1/jobs", headers={"X-API-Key": "s3cret"}).status_code == 200
        for open_path in ("/healthz", "/readyz", "/metrics"):
            assert client.get(open_path).status_code == 200
        response = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
        assert response.headers["x-request-id"] == "trace-42"


def test_readiness_and_metrics_report_queue_and_jobs(
    api: TestClient, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready"
    api.post("/api/v1/jobs", json=_rows(applicants(10, 4)))
    text = api.get("/metrics").text
    for line in (
        'batch_jobs_total{state="queued"} 1.0',
        'batch_jobs_active{state="queued"} 1.0',
        'batch_queue_depth{status="queued"} 1.0',
        "batch_workers 0.0",
        "batch_rows_scored_total 0.0",
        "batch_redis_up 1.0",
    ):
        assert line in text, line


def test_unknown_job_ids_are_404_and_malformed_ones_422(api: TestClient) -> None:
    assert api.get(f"/api/v1/jobs/{'0' * 32}").status_code == 404
    assert api.get("/api/v1/jobs/../../etc").status_code in (404, 422)
    assert api.get("/api/v1/jobs/not-a-job").status_code == 422


def test_a_status_request_can_wait_for_the_job_to_end(
    api: TestClient, settings: BatchSettings, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    import threading
    import time

    from services.batch.domain import JobState
    from services.batch.state.backend import Backend

    job = api.post("/api/v1/jobs", json=_rows(applicants(100, 1))).json()
    url = f"/api/v1/jobs/{job['job_id']}"
    started = time.monotonic()
    still = api.get(url, params={"wait": 0.5}).json()  # no worker: the wait runs out
    assert still["state"] == "queued"
    assert time.monotonic() - started >= 0.5
    store = Backend.connect(settings).store
    closer = threading.Timer(
        0.5, store.close, (job["job_id"], JobState.CANCELLED, settings.result_ttl_seconds)
    )
    closer.start()
    started = time.monotonic()
    ended = api.get(url, params={"wait": 20}).json()  # answered when the job is closed
    closer.join()
    assert ended["state"] == "cancelled"
    assert time.monotonic() - started < 10
    started = time.monotonic()
    assert api.get(url, params={"wait": 20}).json()["state"] == "cancelled"  # ended: at once
    assert time.monotonic() - started < 5
    assert api.get(url, params={"wait": 31}).status_code == 422


def test_status_requests_beyond_the_waiting_limit_are_answered_at_once(
    api: TestClient, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    import time

    from services.batch.service.batch_service import MAX_WAITERS

    job = api.post("/api/v1/jobs", json=_rows(applicants(100, 1))).json()
    url = f"/api/v1/jobs/{job['job_id']}"
    waiters = api.app.state.service._waiters  # every slot taken, as by MAX_WAITERS long polls
    for _ in range(MAX_WAITERS):
        assert waiters.acquire(blocking=False)
    try:
        started = time.monotonic()
        assert api.get(url, params={"wait": 20}).json()["state"] == "queued"
        assert time.monotonic() - started < 5
    finally:
        for _ in range(MAX_WAITERS):
            waiters.release()
    started = time.monotonic()
    assert api.get(url, params={"wait": 0.5}).json()["state"] == "queued"  # slots free again
    assert time.monotonic() - started >= 0.5
