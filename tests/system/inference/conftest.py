"""Fixtures of the inference system tests: real inference processes and a real MLflow
tracking server, all stopped at teardown (their log tails are printed on failure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.system.inference.servers import InferenceProcess, MlflowServer, SpawnInference


@pytest.fixture
def spawn_inference(tmp_path: Path) -> Iterator[SpawnInference]:
    """Start ``python -m services.inference`` processes; all are stopped after the test."""
    started: list[InferenceProcess] = []

    def spawn(model_uri: str, tracking_uri: str, **settings: Any) -> InferenceProcess:
        workdir = tmp_path / f"inference-{len(started)}"
        process = InferenceProcess(workdir, model_uri, tracking_uri, **settings)
        started.append(process)
        return process.start()

    yield spawn
    for process in started:
        process.stop()
        print(process.tail())


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` for the module; tests stop and restart it on its port."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()
    print(server.tail())
