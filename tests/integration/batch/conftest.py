"""Fixtures of the batch integration tests: real Redis, the job API in-process, worker
subprocesses, a downloaded copy of the test model and synthetic applicants."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from redis import Redis

from services.batch.api.app import create_app
from services.batch.settings import BatchSettings
from services.core.datasets import load_config
from services.core.model_store import LoadedModel, load_model
from services.core.registry import client as registry_client
from services.core.synthetic import ApplicantGenerator
from tests.integration.batch.harness import TestClient, WorkerProcess
from tests.support.models import TrainedModel
from tests.support.processes import RedisServer


@pytest.fixture(scope="session")
def model_dir(default_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test model downloaded once: workers load it from this folder (the shared
    loader; the MLflow registry path is covered by the API test using ``models:/``)."""
    registry_client(default_model.tracking_uri)
    target = tmp_path_factory.mktemp("batch-model")
    return Path(
        mlflow.artifacts.download_artifacts(artifact_uri=default_model.uri, dst_path=str(target))
    )


@pytest.fixture(scope="session")
def model(model_dir: Path) -> LoadedModel:
    return load_model(str(model_dir), "", nthread=2)


@pytest.fixture(scope="session")
def applicants() -> Callable[[int, int], pd.DataFrame]:
    generator = ApplicantGenerator.from_config(load_config("default"))

    def sample(n: int, seed: int = 0) -> pd.DataFrame:
        frame = generator.sample(n, seed=seed)
        frame["student"] = frame["student"].astype(str)
        return frame

    return sample


def make_settings(
    redis: RedisServer, root: Path, model_dir: Path, **overrides: object
) -> BatchSettings:
    options: dict[str, object] = {
        "redis_url": redis.url,
        "model_uri": str(model_dir),
        "storage_dir": root / "store",
        "chunk_rows": 50_000,
        "lease_seconds": 3,
        "maintenance_interval_seconds": 1,
        "worker_ttl_seconds": 16,
        "retry_backoff_seconds": [1],
        "max_retries": 3,
        "redis_timeout_seconds": 2.0,
        "nthread": 1,
        "log_json": False,
    }
    options.update(overrides)
    return BatchSettings(**options)  # type: ignore[arg-type]


@pytest.fixture
def settings(redis: RedisServer, tmp_path: Path, model_dir: Path) -> BatchSettings:
    return make_settings(redis, tmp_path, model_dir)


@pytest.fixture
def api(settings: BatchSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker subprocesses; every one is stopped (with its process group) after."""
    started: list[WorkerProcess] = []

    def spawn(settings: BatchSettings, burst: bool = False) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log", burst)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.stop()


@pytest.fixture
def redis_client(redis: RedisServer) -> Iterator[Redis]:
    """A client of the test's own redis-server, closed after the test."""
    client = Redis.from_url(redis.url)
    try:
        yield client
    finally:
        client.close()
