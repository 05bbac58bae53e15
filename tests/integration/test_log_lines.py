"""Each entrypoint, run as its own process with its output a pipe, writes nothing but
compact JSON lines: ours, uvicorn's, rq's, kopf's and MLflow's — no progress bars, no
colours, no secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.logs import PLAIN_LINE_LIMIT, parsed
from tests.support.models import TrainedModel, tracking_uri_for
from tests.support.processes import RedisServer, free_port, stop

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0ken-that-must-not-be-logged"


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TQDM_", "MLFLOW_"))}
    return {**env, "PYTHONPATH": str(ROOT), **values}


def _records(output: str) -> list[dict[str, Any]]:
    """Every line one JSON object; those with a short message and no exception (the plain
    ones) within the size bound."""
    lines = output.splitlines()
    assert lines, "nothing was logged"
    records = parsed(lines)
    for line, record in zip(lines, records, strict=True):
        if "exception" not in record and len(record["message"]) <= 60:
            assert len(line.encode()) + 1 <= PLAIN_LINE_LIMIT, line
    return records


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start ``python -m <module> <args>``, wait until ``ready()``, stop it (SIGTERM) and
    return what it wrote to stdout and stderr."""
    running: list[subprocess.Popen[bytes]] = []

    def start(
        args: list[str], env: dict[str, str], ready: Callable[[str], bool], timeout: float = 120
    ) -> str:
        out = tmp_path / f"{args[0]}-{len(running)}.log"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=sink, stderr=sink
            )
        running.append(proc)
        deadline = time.monotonic() + timeout
        while not ready(out.read_text(errors="replace")):
            assert proc.poll() is None, out.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, out.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        stop(proc, timeout=30)
        return out.read_text(errors="replace")

    yield start
    for proc in running:
        stop(proc)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def test_inference_server(default_model: TrainedModel, serve: Callable[..., str]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(
        MODEL_URI=default_model.uri,
        MLFLOW_TRACKING_URI=default_model.tracking_uri,
        INFERENCE_PORT=str(port),
        INFERENCE_HOST="127.0.0.1",
    )
    output = serve(["services.inference"], env, lambda _: _answers(f"{url}/readyz"))
    records = _records(output)
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.error"} <= loggers, loggers
    assert any(r["logger"].startswith("services.inference") for r in records), loggers
    assert all(r["service"] == "inference" for r in records)


def test_inference_with_mlflow_down_keeps_its_password_out(serve: Callable[..., str]) -> None:
    env = _env(
        MODEL_URI="models:/credit-default/1",
        MLFLOW_TRACKING_URI=f"http://mlflow-user:{TOKEN}@127.0.0.1:1",
        INFERENCE_PORT=str(free_port()),
        INFERENCE_HOST="127.0.0.1",
    )
    output = serve(["services.inference"], env, lambda out: "reload refused" in out)
    refused = [r for r in _records(output) if "reload refused" in r["message"]]
    assert "http://mlflow-user:***@127.0.0.1:1/" in refused[0]["message"]
    assert TOKEN not in output


def test_batch_api_and_burst_worker(
    default_model: TrainedModel, redis: RedisServer, tmp_path: Path, serve: Callable[..., str]
) -> None:
    port = free_port()
    env = _env(
        REDIS_URL=redis.url,
        MODEL_URI=default_model.uri,
        MLFLOW_TRACKING_URI=default_model.tracking_uri,
        BATCH_STORAGE_DIR=str(tmp_path / "store"),
        BATCH_LOG_JSON="true",
    )
    api = serve(
        ["services.batch", "api", "--port", str(port)],
        env,
        lambda _: _answers(f"http://127.0.0.1:{port}/readyz"),
    )
    records = _records(api)
    assert "uvicorn.error" in {r["logger"] for r in records}
    assert all(r["service"] == "batch-api" for r in records)
    polled = [r for r in records if "/readyz" in r["message"]]
    assert polled == [], "probes are left out of the access log by default"

    worker = subprocess.run(
        [sys.executable, "-m", "services.batch", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert worker.stdout == ""
    records = _records(worker.stderr)
    rq_lines = [r for r in records if r["logger"].startswith("rq.")]
    assert rq_lines, {r["logger"] for r in records}
    assert any("loaded" in r["message"] for r in records)
    assert all(r["service"] == "batch-worker" for r in records)


def test_trainer_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.trainer",
            "--mlflow-tracking-uri",
            tracking_uri_for(tmp_path / "mlflow"),
            "--cv-folds",
            "2",
            "--imbalance",
            "scale_pos_weight",
            "--nthread",
            "2",
        ],
        cwd=ROOT,
        env=_env(TRAINER_LOG_LEVEL="INFO"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(proc.stdout.splitlines()) == 1  # only the summary: no run links, no bars
    records = _records(proc.stderr)
    messages = [(r["logger"], r["message"]) for r in records]
    assert ("mlflow", "Successfully registered model 'credit-default'.") in messages
    assert any(name.startswith("services.trainer") for name, _ in messages)
    assert not any(name.startswith("alembic") for name, _ in messages)  # INFO migrations
    assert all(r["service"] == "trainer" for r in records)


def test_trainer_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("default,student,balance,income\nNo,No,abc,1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "services.trainer", "--data-path", str(bad)],
        cwd=ROOT,
        env=_env(MLFLOW_TRACKING_URI=tracking_uri_for(tmp_path / "s")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    [error] = [r for r in _records(proc.stderr) if r["level"] == "ERROR"]
    assert "balance: 1 values that are not numbers (rows 1)" in error["message"]


def test_controller_and_kopf(tmp_path: Path, serve: Callable[..., str]) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]\n"
        f"users: [{{name: u, user: {{token: {TOKEN}}}}}]\n"
    )
    liveness = free_port()
    env = _env(CONTROLLER_LIVENESS_PORT=str(liveness), CONTROLLER_METRICS_PORT="0")

    def probed(output: str) -> bool:
        """kopf logged in (and failed to reach the API); its liveness probe answered."""
        return "Initial authentication has finished" in output and _answers(
            f"http://127.0.0.1:{liveness}/healthz"
        )

    output = serve(["controller", "--kubeconfig", str(kubeconfig), "-n", "default"], env, probed)
    records = _records(output)
    kopf = [r for r in records if r["logger"].startswith("kopf.")]
    assert any(r["message"] == "Initial authentication has finished." for r in kopf), kopf
    assert not any(r["logger"] == "aiohttp.access" for r in records)  # probes not logged
    assert all(r["service"] == "controller" for r in records)
    assert TOKEN not in output
