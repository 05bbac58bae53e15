"""A job API that starts before its model can be read (MLflow still starting, the alias not
set yet) becomes ready by itself once the model is there: the readiness probe pins again.
A worker started then waits for the model instead of exiting."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from services.batch.api.app import create_app
from services.batch.service import batch_service
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import TestClient, WorkerProcess
from tests.support.processes import RedisServer
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration


def test_readiness_pins_the_model_again_once_it_can_be_read(
    redis: RedisServer, tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = tmp_path / "model-not-there-yet"
    settings = make_settings(redis, tmp_path, late)
    with TestClient(create_app(settings)) as client:
        first = client.get("/readyz")
        assert first.status_code == 503
        assert "model not loaded" in first.json()["problems"][0]

        # within the retry interval a probe does not ask the registry again
        shutil.copytree(model_dir, late)
        assert client.get("/readyz").status_code == 503

        monkeypatch.setattr(batch_service, "PIN_RETRY_SECONDS", 0.0)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["problems"] == []
        assert ready.json()["model"]["uri"] == str(late)


def test_worker_waits_for_its_model_then_starts(
    redis: RedisServer,
    tmp_path: Path,
    model_dir: Path,
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    """Found on the kind cluster: workers started before the first champion exited and sat
    in CrashLoopBackOff; now they wait (taking no task) and start once the model is there."""
    late = tmp_path / "model-not-there-yet"
    worker = spawn_worker(make_settings(redis, tmp_path, late))
    wait_for(
        "the worker to report its wait", lambda: "waiting for the model" in worker.output(), 60, 0.2
    )
    assert worker.alive, worker.output()
    shutil.copytree(model_dir, late)
    wait_for("the model to load", lambda: "loaded (" in worker.output(), 60, 0.2)
    assert worker.alive, worker.output()


def test_worker_gives_up_after_its_wait(
    redis: RedisServer,
    tmp_path: Path,
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    settings = make_settings(redis, tmp_path, tmp_path / "never", model_wait_seconds=0)
    worker = spawn_worker(settings)
    assert worker.wait(60) == 2
    assert "cannot start" in worker.output()
