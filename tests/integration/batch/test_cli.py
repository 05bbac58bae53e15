"""The command line: the API and worker entry points, the client with its progress bar,
and the demo with and without Redis (the in-process fallback says so)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from services.batch.settings import BatchSettings
from services.core.model_store import LoadedModel
from tests.integration.batch.harness import (
    ROOT,
    WorkerProcess,
    assert_results_equal,
    expected,
    settings_env,
    wait_for,
)
from tests.support.processes import free_port, stop

pytestmark = pytest.mark.integration


def _cli(
    settings: BatchSettings, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.batch", *args],
        cwd=ROOT,
        text=True,
        env=settings_env(settings),
        capture_output=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def api_url(settings: BatchSettings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with (tmp_path / "api.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.batch", "api", "--port", str(port)],
            cwd=ROOT,
            env=settings_env(settings),
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for("the API to be ready", ready, 120, 0.2)
        yield url
    finally:
        stop(proc)


def test_submit_shows_progress_then_results_download(
    settings: BatchSettings,
    api_url: str,
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    frame = applicants(120_000, 12)
    book = tmp_path / "book.csv"
    frame.to_csv(book, index=False)
    spawn_worker(settings)
    submitted = _cli(settings, "submit", str(book), "--url", api_url, "--timeout", "120")
    assert submitted.returncode == 0, submitted.stderr
    status = json.loads(submitted.stdout)
    assert (status["state"], status["rows_done"]) == ("succeeded", 120_000)
    assert "rows" in submitted.stderr  # the tqdm bar
    assert "succeeded" in submitted.stderr
    out = tmp_path / "scored.parquet"
    fetched = _cli(settings, "results", status["job_id"], "--url", api_url, "-o", str(out))
    assert fetched.returncode == 0, fetched.stderr
    assert_results_equal(pd.read_parquet(out), expected(model, frame))
    shown = _cli(settings, "status", status["job_id"], "--url", api_url)
    assert json.loads(shown.stdout)["summary"]["rows"] == 120_000


def test_client_errors_are_short_and_exit_nonzero(settings: BatchSettings, api_url: str) -> None:
    missing = _cli(settings, "submit", "--path", "nope.parquet", "--url", api_url)
    assert missing.returncode == 2
    assert "HTTP 422" in missing.stderr
    assert "not a file in an allowed input folder" in missing.stderr
    down = _cli(settings, "status", "0" * 32, "--url", "http://127.0.0.1:9", "--timeout", "1")
    assert down.returncode == 2
    assert "error:" in down.stderr


def test_demo_runs_on_the_queue_and_summarises(settings: BatchSettings) -> None:
    done = _cli(settings, "demo", "--rows", "30000")
    assert done.returncode == 0, done.stderr
    assert "starting a burst worker" in done.stderr
    assert "predicted default rate" in done.stdout
    assert "risk band low" in done.stdout


def test_demo_without_redis_says_so_and_runs_in_process(settings: BatchSettings) -> None:
    offline = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{free_port()}/0", "redis_timeout_seconds": 1.0}
    )
    done = _cli(offline, "demo", "--rows", "30000")
    assert done.returncode == 0, done.stderr
    assert "Redis is not reachable" in done.stderr
    assert "IN-PROCESS" in done.stderr
    assert "scored 30,000 applicants" in done.stdout
