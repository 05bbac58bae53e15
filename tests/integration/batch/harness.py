"""Helpers for the batch integration tests: worker subprocesses, bounded waits, inputs
and the in-process predictions results must equal."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.batch.settings import BatchSettings
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from tests.support.waits import wait_for as wait_for  # the batch tests import it from here

with warnings.catch_warnings():  # starlette's notice that it prefers httpx2 is not ours
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[3]
FINAL = {"succeeded", "failed", "cancelled"}


def settings_env(settings: BatchSettings) -> dict[str, str]:
    """The environment that gives a worker process the same settings."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": settings.redis_url,
        "MODEL_URI": settings.model_uri,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "BATCH_LOG_JSON": "false",
    }
    for name in (
        "storage_dir",
        "chunk_rows",
        "lease_seconds",
        "maintenance_interval_seconds",
        "worker_ttl_seconds",
        "max_retries",
        "result_ttl_seconds",
        "nthread",
        "submit_check_rows",
        "key_prefix",
        "fault_chunk_delay_seconds",
        "queue_name",
        "model_wait_seconds",
    ):
        env[f"BATCH_{name.upper()}"] = str(getattr(settings, name))
    env["BATCH_RETRY_BACKOFF_SECONDS"] = str(settings.retry_backoff_seconds)
    return env


class BatchProcess:
    """``python -m services.batch <args>`` in its own process group (rq forks its
    scheduler into it), logging to a file; ``env`` defaults to :func:`settings_env`."""

    def __init__(
        self, settings: BatchSettings, log: Path, *args: str, env: dict[str, str] | None = None
    ) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.batch", *args],
                env=env if env is not None else settings_env(settings),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def sigkill(self) -> None:
        """Kill the worker process itself, as the OOM killer would."""
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # what is left in its group (rq's scheduler)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class WorkerProcess(BatchProcess):
    """``python -m services.batch worker [--burst]``."""

    def __init__(self, settings: BatchSettings, log: Path, burst: bool = False) -> None:
        super().__init__(settings, log, "worker", *(["--burst"] if burst else []))


def wait_final(client: TestClient, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        response = client.get(f"/api/v1/jobs/{job_id}")
        if response.status_code == 200 and response.json()["state"] in FINAL:
            return dict(response.json())
        return None

    return dict(wait_for(f"job {job_id} to end", final, timeout, interval=0.2))


def expected(model: LoadedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """In-process predictions, straight from the shared model code."""
    predictions = model.predict(encode_frame(model.contract.features, frame))
    return pd.DataFrame(
        {
            "row": np.arange(1, len(frame) + 1),
            "probability": predictions.probability,
            "prediction": predictions.label.astype(np.int8),
            "risk_band": predictions.band,
        }
    )


def assert_results_equal(results: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(results) == len(want)
    np.testing.assert_array_equal(results["row"].to_numpy(), want["row"].to_numpy())
    np.testing.assert_array_equal(
        results["probability"].to_numpy(np.float64), want["probability"].to_numpy(np.float64)
    )
    np.testing.assert_array_equal(results["prediction"].to_numpy(), want["prediction"].to_numpy())
    assert results["risk_band"].astype(str).tolist() == want["risk_band"].astype(str).tolist()


def write_parquet(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size
    )
    return path
