"""The batch image as API + worker containers with a Redis container: a 100,000-row CSV
job scores exactly like the in-process model, and a worker container killed mid-job
loses no row (its chunk is re-queued and a new worker container finishes the job)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from services.batch.client.http import BatchClient
from services.core.datasets import load_config
from services.core.model_store import load_model
from services.core.synthetic import ApplicantGenerator
from tests.container.docker import Container, Network, docker, http_ok, image, wait_for
from tests.integration.batch.harness import assert_results_equal, expected

ROWS = 100_000
CHUNK_ROWS = 2_000
MODEL_MOUNT = "/models/default"


def test_worker_killed_mid_job_loses_no_row(
    network: Network, containers: list[Container], model_folder: Path, tmp_path: Path
) -> None:
    frame = ApplicantGenerator.from_config(load_config("default")).sample(ROWS, seed=7)
    csv = tmp_path / "applicants.csv"
    frame.to_csv(csv, index=False)

    volume = docker("volume", "create", "--label", "creditrisk.test=1")
    try:
        redis = Container(
            image("redis"),
            network,
            alias="redis",
            hardened=False,  # its own UID (999); still read-only and without capabilities
            extra=["--read-only", "--cap-drop", "ALL", "--tmpfs", "/data:uid=999,gid=999"],
        )
        containers.append(redis.start())
        env = {
            "REDIS_URL": "redis://redis:6379/0",
            "MODEL_URI": MODEL_MOUNT,
            "BATCH_CHUNK_ROWS": str(CHUNK_ROWS),
            "BATCH_NTHREAD": "1",
            "BATCH_LEASE_SECONDS": "3",
            "BATCH_MAINTENANCE_INTERVAL_SECONDS": "1",
            "BATCH_RETRY_BACKOFF_SECONDS": "[0]",
        }
        mounts = [f"{volume}:/data/batch", f"{model_folder}:{MODEL_MOUNT}:ro"]

        def worker() -> Container:
            started = Container(image("batch"), network, ["worker"], env=env, volumes=mounts)
            containers.append(started.start())
            return started

        api = Container(image("batch"), network, ["api"], env=env, volumes=mounts, publish=[8080])
        containers.append(api.start())
        url = api.url()
        wait_for("batch API /readyz", lambda: http_ok(f"{url}/readyz"), 120, api)

        client = BatchClient(url, timeout=120)
        job_id = client.submit_file(csv)["job_id"]
        first = worker()

        def scored_some() -> dict[str, Any] | None:
            status = client.status(job_id)
            return status if status["rows_done"] >= CHUNK_ROWS else None

        status = wait_for("the first chunks scored", scored_some, 180, first)
        first.kill()
        assert status["state"] == "running", status
        assert status["rows_done"] < ROWS, "the job ended before the worker was killed"
        worker()
        final = client.wait(job_id, timeout=300, poll=0.5, progress=False)
        assert final["state"] == "succeeded", final
        assert final["rows_done"] == ROWS

        results = pd.read_parquet(client.download(job_id, tmp_path / "results.parquet"))
        assert_results_equal(
            results.sort_values("row").reset_index(drop=True),
            expected(load_model(str(model_folder), ""), frame),
        )
    finally:
        for container in containers:
            container.remove()
        containers.clear()
        deadline = time.monotonic() + 30
        while docker("volume", "rm", volume, check=False) == "" and time.monotonic() < deadline:
            time.sleep(0.5)
