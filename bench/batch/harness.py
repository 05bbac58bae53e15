"""Processes for the batch benchmark: a private Redis, the job API and worker processes,
plus a sampler of each worker's resident memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil
from redis import Redis
from rq import Queue, Worker

from tests.support.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[2]


def job_api_env(
    model_uri: str,
    tracking: str,
    redis_url: str,
    work: Path,
    chunk_rows: int,
    input_dirs: list[Path] | None = None,
) -> dict[str, str]:
    """The settings of the API and workers a benchmark starts: its model, Redis and
    storage under ``work``, quiet logs, ``chunk_rows`` per chunk and no reason columns (the
    throughput baselines and the peers compute none; bench_reasons measures their cost)."""
    env = {
        "MODEL_URI": model_uri,
        "MLFLOW_TRACKING_URI": tracking,
        "REDIS_URL": redis_url,
        "BATCH_STORAGE_DIR": str(work / "store"),
        "BATCH_LOG_LEVEL": "WARNING",
        "BATCH_CHUNK_ROWS": str(chunk_rows),
        "BATCH_REASONS_TOP_K": "0",
    }
    if input_dirs is not None:
        env["BATCH_INPUT_DIRS"] = json.dumps([str(d) for d in input_dirs])
    return env


def service_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    return {**os.environ, **base, **extra, "PYTHONPATH": str(ROOT)}


@contextmanager
def api_server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.batch", "api", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise TimeoutError("batch API not ready after 120 s")
        yield url
    finally:
        stop(proc)


@contextmanager
def workers(n: int, env: dict[str, str], redis_url: str) -> Iterator[list[int]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "services.batch", "worker"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    try:
        queue = Queue("batch", connection=Redis.from_url(redis_url))
        deadline = time.monotonic() + 180
        while Worker.count(queue=queue) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} workers not up after 180 s")
            time.sleep(0.2)
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            stop(proc, timeout=30)
            _kill_group(proc.pid)


def _kill_group(pgid: int) -> None:
    """The scheduler process a worker forks lives in the worker's own process group."""
    with suppress(ProcessLookupError):
        os.killpg(pgid, 9)


class RssSampler(threading.Thread):
    """Peak resident memory of each process, sampled every ``interval`` seconds."""

    def __init__(self, pids: list[int], interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.procs = [psutil.Process(pid) for pid in pids]
        self.peak = [0] * len(pids)
        self.interval = interval
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            for i, proc in enumerate(self.procs):
                with suppress(psutil.Error):
                    self.peak[i] = max(self.peak[i], proc.memory_info().rss)

    def stop(self) -> list[float]:
        self.done.set()
        self.join()
        return [round(p / 2**20) for p in self.peak]


def model_or_quick(model_uri: str | None, tracking_uri: str, work: Path) -> tuple[str, str]:
    """``(model_uri, tracking_uri)``: the ones given, or a quick Default model trained into
    a fresh MLflow store under ``work``."""
    if model_uri:
        return model_uri, tracking_uri
    from tests.support.models import tracking_uri_for, train_quick

    trained = train_quick(tracking_uri_for(work / "mlflow"), "default", log_level="WARNING")
    return trained.uri, trained.tracking_uri
