"""One model version per job, against a real MLflow registry, real Redis and real rq worker
processes: a job is pinned at submit to the version the champion alias names then; a
promotion mid-job does not change it; a job submitted after the promotion uses the new
champion on the very same worker process (no restart); a chunk re-run after its worker
was SIGKILLed is scored by the pinned version too; a pinned version deleted before its job
ran fails the job with a report; and the submit check uses the pinned version's contract.
"""

from __future__ import annotations

import io
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from redis import Redis
from rq.registry import StartedJobRegistry

from services.batch.api.app import create_app
from services.batch.settings import BatchSettings
from services.batch.state.result_files import read_summary
from services.core.contract import CONTRACT_FILE
from services.core.model_store import LoadedModel, load_model
from services.core.registry import client as registry_client
from services.core.registry import set_alias
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import (
    TestClient,
    WorkerProcess,
    expected,
    wait_final,
    wait_for,
    write_parquet,
)
from tests.support.models import TrainedModel, train_quick
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

NAME = "batch-pin"
CHUNK_ROWS = 2_000
Spawn = Callable[..., WorkerProcess]


@dataclass(frozen=True)
class PinModels:
    """Registered model ``batch-pin``: version 1 trained with seed 7, version 2 the session's
    Default model (seed 42) — two real boosters that score differently."""

    tracking_uri: str
    source: str  # the run artifact version 2 was registered from
    run_id: str

    alias_uri = f"models:/{NAME}@champion"

    def promote(self, version: str) -> None:
        set_alias(self.tracking_uri, NAME, "champion", version)

    def new_version(self) -> str:
        registry = registry_client(self.tracking_uri)
        return str(registry.create_model_version(NAME, self.source, self.run_id).version)

    def load(self, version: str) -> LoadedModel:
        return load_model(f"models:/{NAME}/{version}", self.tracking_uri, nthread=2)


@pytest.fixture(scope="module")
def pin_models(model_store: str, default_model: TrainedModel) -> PinModels:
    first = train_quick(model_store, "default", model_name=NAME, seed=7)
    assert first.summary.version == "1"
    run_id = default_model.summary.run_id
    models = PinModels(model_store, f"runs:/{run_id}/model", run_id)
    assert models.new_version() == "2"
    return models


def _settings(
    redis: RedisServer, tmp_path: Path, model_dir: Path, models: PinModels, **overrides: object
) -> BatchSettings:
    options: dict[str, object] = {
        "model_uri": models.alias_uri,
        "mlflow_tracking_uri": models.tracking_uri,
        "chunk_rows": CHUNK_ROWS,
        "retry_backoff_seconds": [0, 1],
        **overrides,
    }
    return make_settings(redis, tmp_path, model_dir, **options)


def _submit(client: TestClient, settings: BatchSettings, frame: pd.DataFrame, name: str) -> str:
    write_parquet(frame, settings.storage_dir / "inputs" / name, row_group_size=CHUNK_ROWS)
    response = client.post("/api/v1/jobs", json={"path": name})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def _results(client: TestClient, job_id: str) -> pd.DataFrame:
    response = client.get(f"/api/v1/jobs/{job_id}/results", params={"format": "parquet"})
    assert response.status_code == 200, response.text
    return pq.read_table(pa.BufferReader(response.content)).to_pandas()


def _assert_scored_by(results: pd.DataFrame, model: LoadedModel, frame: pd.DataFrame) -> None:
    assert results["model_version"].astype(str).unique().tolist() == [model.version]
    want = expected(model, frame)
    np.testing.assert_array_equal(results["row"].to_numpy(), want["row"].to_numpy())
    np.testing.assert_array_equal(
        results["probability"].to_numpy(np.float64), want["probability"].to_numpy(np.float64)
    )


def _result_files(settings: BatchSettings, job_id: str) -> list[Path]:
    return sorted((settings.storage_dir / "jobs" / job_id / "results").glob("part-*.parquet"))


def _chunks_done(client: TestClient, job_id: str) -> int:
    return int(client.get(f"/api/v1/jobs/{job_id}").json()["chunks_done"])


def test_promotion_mid_job_keeps_the_job_on_its_version_and_the_next_job_follows_it(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    pin_models: PinModels,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    pin_models.promote("1")
    settings = _settings(redis, tmp_path, model_dir, pin_models, fault_chunk_delay_seconds=0.5)
    frame = applicants(6 * CHUNK_ROWS, 11)
    v1, v2 = pin_models.load("1"), pin_models.load("2")
    assert not np.allclose(  # the two versions really score differently
        expected(v1, frame)["probability"], expected(v2, frame)["probability"]
    )
    with TestClient(create_app(settings)) as client:
        job_a = _submit(client, settings, frame, "a.parquet")
        status_a = client.get(f"/api/v1/jobs/{job_a}").json()
        assert status_a["model"] == {
            "name": NAME,
            "version": "1",
            "uri": f"models:/{NAME}/1",
            "requested": pin_models.alias_uri,
        }
        worker = spawn_worker(settings)
        wait_for("job A to score its first chunk", lambda: _chunks_done(client, job_a) >= 1, 120)
        pin_models.promote("2")  # what the controller does on promotion
        job_b = _submit(client, settings, frame, "b.parquet")
        assert client.get(f"/api/v1/jobs/{job_a}").json()["state"] == "running"  # mid-job
        final_a, final_b = wait_final(client, job_a), wait_final(client, job_b)
        assert final_a["state"] == final_b["state"] == "succeeded", worker.output()
        assert final_b["model"]["version"] == "2"
        assert final_b["model"]["uri"] == f"models:/{NAME}/2"
        assert final_a["summary"]["model_versions"] == ["1"]
        assert final_b["summary"]["model_versions"] == ["2"]
        _assert_scored_by(_results(client, job_a), v1, frame)
        _assert_scored_by(_results(client, job_b), v2, frame)
        page = client.get(f"/api/v1/jobs/{job_b}/results", params={"format": "json"}).json()
        assert {row["model_version"] for row in page["rows"]} == {"2"}
        csv = client.get(f"/api/v1/jobs/{job_a}/results", params={"format": "csv"}).text
        table = pd.read_csv(io.StringIO(csv), dtype={"model_version": str})
        assert "model_version" in table.columns  # before the reason_i columns
        assert table["model_version"].unique().tolist() == ["1"]
    assert worker.alive  # one worker process served both versions, never restarted
    for job_id in (job_a, job_b):
        files = _result_files(settings, job_id)
        assert len(files) == 6
        assert {read_summary(path).worker for path in files} == {read_summary(files[0]).worker}
        assert read_summary(files[0]).worker.endswith(f":{worker.pid}")


def test_a_chunk_rerun_after_its_worker_was_killed_uses_the_pinned_version(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    pin_models: PinModels,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    pin_models.promote("1")
    settings = _settings(redis, tmp_path, model_dir, pin_models, fault_chunk_delay_seconds=1.5)
    frame = applicants(4 * CHUNK_ROWS, 12)
    with TestClient(create_app(settings)) as client:
        job_id = _submit(client, settings, frame, "book.parquet")
        first = spawn_worker(settings)
        started = StartedJobRegistry(
            settings.queue_name, connection=Redis.from_url(settings.redis_url)
        )
        results = settings.storage_dir / "jobs" / job_id / "results"

        def mid_chunk() -> str | None:
            running = started.get_job_ids(cleanup=False)
            if _chunks_done(client, job_id) >= 1 and running:
                index = int(running[0].rsplit("-c", 1)[1])
                return running[0] if not (results / f"part-{index:06d}.parquet").exists() else None
            return None

        task_id = wait_for("a chunk in progress after one is done", mid_chunk, 120, 0.02)
        pin_models.promote("2")  # the replacement worker starts with version 2 loaded
        os.killpg(first.pid, signal.SIGKILL)  # the whole pod: worker and its rq scheduler
        first.proc.wait(10)
        second = spawn_worker(settings)
        final = wait_final(client, job_id, 180)
        assert final["state"] == "succeeded", second.output()
        assert final["summary"]["model_versions"] == ["1"]
        _assert_scored_by(_results(client, job_id), pin_models.load("1"), frame)
    rerun = read_summary(results / f"part-{int(task_id.rsplit('-c', 1)[1]):06d}.parquet")
    assert rerun.worker.endswith(f":{second.pid}")
    assert rerun.model_version == "1"


def test_a_pinned_version_deleted_before_its_job_ran_fails_the_job_with_a_report(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    pin_models: PinModels,
    spawn_worker: Spawn,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    """Both task kinds refuse another version: a Parquet job's chunk tasks and a CSV job's
    split task."""
    doomed = pin_models.new_version()
    pin_models.promote(doomed)
    settings = _settings(redis, tmp_path, model_dir, pin_models)
    frame = applicants(2 * CHUNK_ROWS, 13)
    with TestClient(create_app(settings)) as client:
        in_place = _submit(client, settings, frame, "book.parquet")
        upload = client.post(
            "/api/v1/jobs",
            content=frame.to_csv(index=False).encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert upload.status_code == 202, upload.text
        split = str(upload.json()["job_id"])
        for job_id in (in_place, split):
            assert client.get(f"/api/v1/jobs/{job_id}").json()["model"]["version"] == doomed
        pin_models.promote("1")
        registry_client(pin_models.tracking_uri).delete_model_version(NAME, doomed)
        worker = spawn_worker(settings)
        for job_id in (in_place, split):
            final = wait_final(client, job_id, 120)
            assert final["state"] == "failed", worker.output()
            message = final["error"]["message"]
            assert f"models:/{NAME}/{doomed}" in message
            assert "can no longer be loaded" in message
            assert "never scored with another version" in message
            assert client.get(f"/api/v1/jobs/{job_id}/results").status_code == 409
            assert _result_files(settings, job_id) == []  # nothing scored by another version


def test_the_submit_check_uses_the_contract_of_the_version_it_pins(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    pin_models: PinModels,
    applicants: Callable[[int, int], pd.DataFrame],
) -> None:
    """Version N's contract asks for one more column than version 1's: while it is the
    champion, an input without that column is refused at submit (422 naming it); once
    version 1 is champion again, the same input is accepted — the API never restarted."""
    contract = json.loads(next(Path(str(model_dir)).rglob(CONTRACT_FILE)).read_text())
    like = contract["features"][1]  # a numeric feature: copied under a new name
    contract["features"].append({**like, "name": "months_on_book"})
    contract["reference"]["months_on_book"] = contract["reference"][like["name"]]
    folder = tmp_path / "contract"
    folder.mkdir()
    (folder / CONTRACT_FILE).write_text(json.dumps(contract))
    registry_client(pin_models.tracking_uri)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(folder / CONTRACT_FILE))
    registry = registry_client(pin_models.tracking_uri)
    wider = str(
        registry.create_model_version(NAME, f"runs:/{run.info.run_id}", run.info.run_id).version
    )
    pin_models.promote("1")
    settings = _settings(redis, tmp_path, model_dir, pin_models)
    frame = applicants(100, 14)
    write_parquet(frame, settings.storage_dir / "inputs" / "book.parquet")
    with TestClient(create_app(settings)) as api:
        pin_models.promote(wider)
        refused = api.post("/api/v1/jobs", json={"path": "book.parquet"})
        assert refused.status_code == 422, refused.text
        assert "months_on_book" in refused.text
        pin_models.promote("1")
        accepted = api.post("/api/v1/jobs", json={"path": "book.parquet"})
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["model"]["version"] == "1"
